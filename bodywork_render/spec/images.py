"""Image references: split the way a chart holds them (repository, tag, digest), and whether they float."""

from __future__ import annotations


def split_image(reference: str) -> tuple[str, str, str]:
    """An image reference as (repository, tag, digest), '' for a part it lacks; joined as repository[:tag][@digest].

    The tag is what follows the last ':' of the last path component, so a registry's port
    (``localhost:5000/app``) is never taken for a tag, and a digest keeps the tag before it
    (``app:1.0@sha256:...``).
    """
    name, _, digest = reference.partition("@")
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "", digest
    return repository, tag, digest


def floating(reference: str) -> bool:
    """Whether the reference names no fixed image: no digest, and no tag or the tag ``latest``."""
    _, tag, digest = split_image(reference)
    return not digest and tag in ("", "latest")


def pull_policy(reference: str) -> str:
    """The imagePullPolicy that matches the reference: Always for a floating one (a node would keep the copy it
    pulled first), IfNotPresent for a version tag or a digest."""
    return "Always" if floating(reference) else "IfNotPresent"
