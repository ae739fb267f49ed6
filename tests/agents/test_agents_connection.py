"""One connection check for the SDK and the processors (kafkaio.KafkaConnection)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from intentcast.agents import ClientSettings, SettingsError
from intentcast.broker.settings import BrokerSettings
from intentcast.kafkaio import ConnectionSettingsError, KafkaConnection


@pytest.mark.parametrize("settings_type", [ClientSettings, BrokerSettings])
def test_sasl_without_a_password_is_refused_alike_by_both(
    settings_type: type[KafkaConnection],
) -> None:
    """Each in its own package's exception tree: the SDK's SettingsError is a ClientError."""
    with pytest.raises(settings_type.settings_error, match="INTENTCAST_SASL_PASSWORD"):
        settings_type(security_protocol="SASL_PLAINTEXT", sasl_username="u")
    assert ClientSettings.settings_error is SettingsError
    assert BrokerSettings.settings_error is ConnectionSettingsError


@pytest.mark.parametrize("settings_type", [ClientSettings, BrokerSettings])
def test_both_give_aiokafka_the_same_sasl_options(settings_type: type[KafkaConnection]) -> None:
    settings = settings_type(
        bootstrap="kafka:9093", security_protocol="SASL_PLAINTEXT", sasl_username="u",
        sasl_password=SecretStr("p"), sasl_mechanism="SCRAM-SHA-256",
    )  # fmt: skip
    kwargs = settings.kafka_kwargs()
    assert {k: v for k, v in kwargs.items() if k != "request_timeout_ms"} == {
        "bootstrap_servers": "kafka:9093",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "u",
        "sasl_plain_password": "p",
    }


def test_a_missing_ca_file_is_refused_when_the_settings_are_built() -> None:
    with pytest.raises(ConnectionSettingsError, match="ssl_cafile"):
        BrokerSettings(ssl_cafile="/nonexistent/ca.pem")
