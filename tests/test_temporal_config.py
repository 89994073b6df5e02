"""The Temporal connection is configured as the `temporal` CLI and the SDK configure it
(TEMPORAL_* variables, TOML profiles), with the PBXOPS_TEMPORAL_* names as aliases that win."""

import pytest

from pbxops.runtime.settings import Settings, SettingsInvalid, get_settings
from pbxops.runtime.temporal import _tls

PROFILES = """
[profile.default]
address = "default.example:7233"
namespace = "from-default"

[profile.cloud]
address = "acme.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "profile-api-key"
"""


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILES)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(path))
    return path


def test_with_nothing_configured_it_is_the_dev_server():
    settings = Settings()
    assert (settings.temporal_address, settings.temporal_namespace) == ("127.0.0.1:7233", "default")
    assert settings.temporal_api_key is None and _tls(settings) is False


def test_the_sdk_variables_configure_the_connection(monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "ops")
    monkeypatch.setenv("TEMPORAL_API_KEY", "k" * 40)
    settings = Settings()
    assert settings.temporal_address == "temporal.internal:7233"
    assert settings.temporal_namespace == "ops"
    assert settings.temporal_api_key is not None
    assert settings.temporal_api_key.get_secret_value() == "k" * 40
    assert _tls(settings) is True  # an API key always travels over TLS


def test_a_profile_of_the_toml_file_is_chosen_by_name(profiles, monkeypatch):
    assert Settings().temporal_address == "default.example:7233"
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    settings = Settings()
    assert (settings.temporal_address, settings.temporal_namespace) == (
        "acme.tmprl.cloud:7233",
        "acme.a1b2c",
    )
    monkeypatch.delenv("TEMPORAL_PROFILE")
    monkeypatch.setenv("PBXOPS_TEMPORAL_PROFILE", "cloud")
    assert Settings().temporal_namespace == "acme.a1b2c"


def test_the_pbxops_names_win_over_the_sdk_configuration(profiles, monkeypatch):
    monkeypatch.setenv("TEMPORAL_PROFILE", "cloud")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "from-env")
    monkeypatch.setenv("PBXOPS_TEMPORAL_ADDRESS", "127.0.0.1:7233")
    monkeypatch.setenv("PBXOPS_TEMPORAL_NAMESPACE", "default")
    settings = Settings()
    assert (settings.temporal_address, settings.temporal_namespace) == ("127.0.0.1:7233", "default")


def test_tls_from_the_sdk_configuration_is_used(monkeypatch):
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    tls = _tls(Settings())
    assert not isinstance(tls, bool) and tls.domain == "temporal.internal"


def test_an_unknown_profile_is_one_line_naming_it(profiles, monkeypatch):
    monkeypatch.setenv("TEMPORAL_PROFILE", "nope")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsInvalid) as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("bad setting TEMPORAL_* / temporal.toml: the client configuration")
    assert "nope" in message
