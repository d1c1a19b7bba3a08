"""Naming rules, value by value: normalisation, the DNS checks at their length limits, digests and shortening.

Expected values are written out here; the digests were computed once with hashlib, outside the code under test.
"""

from __future__ import annotations

import pytest

from bodywork_render.spec import names


def test_normalise_lowercases_and_turns_underscores_and_dots_into_dashes() -> None:
    assert names.normalise("Stage_1.Train") == "stage-1-train"
    assert names.normalise("plain") == "plain"


@pytest.mark.parametrize(
    ("name", "label", "dns1035"),
    [
        ("a", True, True),
        ("a" * 63, True, True),
        ("a" * 64, False, False),
        ("0a", True, False),
        ("a0", True, True),
        ("a-b", True, True),
        ("-a", False, False),
        ("a-", False, False),
        ("A", False, False),
        ("a.b", False, False),
        ("", False, False),
    ],
)
def test_labels_follow_dns_1123_and_1035_up_to_63_characters(name: str, label: bool, dns1035: bool) -> None:
    assert names.is_label(name) is label
    assert names.is_dns1035_label(name) is dns1035


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a.b-c.d", True),
        ("a" * 253, True),
        ("a" * 254, False),
        ("a..b", False),
        ("a.", False),
        ("A.b", False),
    ],
)
def test_subdomains_allow_dotted_labels_up_to_253_characters(name: str, valid: bool) -> None:
    assert names.is_subdomain(name) is valid


def test_digest_is_a_prefix_of_the_sha256_of_the_nul_terminated_parts() -> None:
    assert names.digest("a") == "ffe9aaea"
    assert names.digest("a", "b") == "8fb20ef6"
    assert names.digest("ab") == "969caaeb"  # the separator keeps ("a", "b") and ("ab",) apart
    assert names.digest("a", length=4) == "ffe9"
    assert names.digest() == "e3b0c442"


def test_fit_keeps_a_name_that_fits_the_limit_exactly() -> None:
    assert names.fit("abc") == "abc"
    assert names.fit("abc", "-x") == "abc-x"
    assert names.fit("a" * 63) == "a" * 63
    assert names.fit("a" * 60, "-xy") == "a" * 60 + "-xy"
    assert names.fit("abcdef", limit=6) == "abcdef"


def test_fit_shortens_to_prefix_dash_hash_of_the_whole_name() -> None:
    assert names.fit("x" * 70) == "x" * 54 + "-9146f045"
    assert names.fit("x" * 70, "-12345678") == "x" * 45 + "-9146f045-12345678"
    assert names.fit("a" * 64) == "a" * 54 + "-597756d4"


def test_fit_drops_a_dash_the_cut_leaves_at_the_end_of_the_prefix() -> None:
    assert names.fit("a" * 53 + "-" + "b" * 20) == "a" * 53 + "-30570efa"


def test_job_name_is_pipeline_stage_digest_and_shortened_before_the_digest() -> None:
    assert names.job_name("pipe", "train", "1a2b3c4d") == "pipe-train-1a2b3c4d"
    assert (
        names.job_name("pipe", "x" * 70, "12345678")
        == "pipe-" + "x" * 40 + "-" + names.digest("pipe-" + "x" * 70) + "-12345678"
    )


def test_a_stage_object_is_named_after_its_pipeline() -> None:
    assert names.of_stage("demo", "serve") == "demo-serve"
    assert names.of_stage("d" * 40, "s" * 40) == "d" * 40 + "-" + "s" * 13 + "-" + names.digest(
        "d" * 40 + "-" + "s" * 40
    )


def test_secret_name_prefixes_the_group_and_normalises() -> None:
    assert names.secret_name("db_Creds", "Prod") == "prod-db-creds"
    assert names.secret_name("DB.creds", None) == "db-creds"
    assert names.secret_name("db", "") == "db"


def test_secret_name_may_be_a_long_subdomain_but_not_longer_than_253() -> None:
    assert names.secret_name("s" * 200, None) == "s" * 200
    assert names.secret_name("s" * 300, None) == "s" * 244 + "-22ea06c8"
    assert names.secret_name("s" * 300, "grp") == "grp-" + "s" * 240 + "-e97fb033"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("envs/prod/demo", "demo-prod"),
        ("./envs/default/demo/", "demo-default"),
        ("envs", "envs"),  # a lone envs folder keeps its name
        ("clusters/envs/demo", "demo-envs-clusters"),  # only a leading envs is dropped
        ("deploy\\win\\Demo_Model", "demo-model-win-deploy"),  # Windows separators, normalised parts
        ("a b/c@d", "c-d-a-b"),  # characters a name cannot hold become one '-'
        ("-x-/_y_", "y---x"),  # no '-' left at either end
        ("", None),
        (".", None),
        ("./", None),
        ("@@", None),
    ],
)
def test_a_deployment_folder_names_its_objects_last_folder_first(path: str, name: str | None) -> None:
    assert names.of_folder(path) == name


def test_a_deep_deployment_folder_gets_a_fitted_name() -> None:
    path = "/".join(f"folder{i}" for i in range(12))
    full = "-".join(f"folder{i}" for i in reversed(range(12)))
    assert names.of_folder(path) == names.fit(full) and len(names.fit(full)) == names.LABEL_MAX
