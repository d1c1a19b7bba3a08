"""Image references, split the way a chart holds them: repository, tag, digest."""

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
