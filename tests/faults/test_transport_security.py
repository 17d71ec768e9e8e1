"""Kafka SASL/TLS and PostgreSQL TLS are configurable, and the SASL password never shows."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from impactline.runtime.kafka import client_security, new_admin, new_consumer, new_producer
from impactline.runtime.settings import Settings, SettingsError

PASSWORD = "s3cret-sasl-password"


def sasl(protocol: str = "SASL_SSL", **more: str) -> Settings:
    return Settings(
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9093",
        KAFKA_SECURITY_PROTOCOL=protocol,
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="impactline",
        KAFKA_SASL_PASSWORD=PASSWORD,
        **more,
    )


def test_plaintext_adds_no_options() -> None:
    assert client_security(Settings(KAFKA_SECURITY_PROTOCOL="PLAINTEXT")) == {}


async def test_sasl_over_tls_configures_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    options = client_security(sasl())
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "impactline"
    assert options["sasl_plain_password"] == PASSWORD
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    # The factories read the process environment, as every service process does.
    for name, value in sasl().as_environment().items():
        if name.startswith("KAFKA_"):
            monkeypatch.setenv(name, value)
    producer = new_producer("127.0.0.1:9093", "t")
    assert producer.client._security_protocol == "SASL_SSL"
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"
    assert producer.client._sasl_plain_password == PASSWORD
    consumer = new_consumer(bootstrap_servers="127.0.0.1:9093")
    assert consumer._client._security_protocol == "SASL_SSL"
    admin = new_admin("127.0.0.1:9093")
    assert admin._client._security_protocol == "SASL_SSL"


def test_the_stream_workers_get_the_same_credentials() -> None:
    from impactline.correlate.app import create_process

    settings = sasl().model_copy(
        update={"catalog_paths": [Path(__file__).parents[2] / "deploy" / "catalog"]}
    )
    worker = create_process(settings).worker  # builds the worker; connects to nothing
    assert worker.security["security_protocol"] == "SASL_SSL"
    assert worker.security["sasl_mechanism"] == "SCRAM-SHA-512"
    assert worker.security["sasl_plain_password"] == PASSWORD
    assert PASSWORD not in repr(worker)


def test_a_private_certificate_authority_can_be_given(tmp_path: Path) -> None:
    # The system's bundle stands in for a private CA file: any PEM bundle loads the same way.
    bundle = Path(ssl.get_default_verify_paths().cafile or "")
    if not bundle.is_file():
        pytest.skip("no CA bundle on this machine to load")
    context = client_security(
        Settings(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=str(bundle))
    )["ssl_context"]
    assert context.cert_store_stats()["x509_ca"] > 0
    missing = tmp_path / "missing.pem"
    with pytest.raises(FileNotFoundError):
        client_security(Settings(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=str(missing)))


def test_sasl_without_credentials_is_refused_with_the_variables_to_set() -> None:
    with pytest.raises(SettingsError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        client_security(Settings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"))


def test_the_sasl_password_is_not_in_the_settings_repr() -> None:
    settings = sasl()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    # Child processes do receive it, through their environment only.
    assert settings.as_environment()["KAFKA_SASL_PASSWORD"] == PASSWORD


def test_unknown_protocols_and_mechanisms_are_refused() -> None:
    with pytest.raises(ValueError, match=r"kafka_security_protocol|KAFKA_SECURITY_PROTOCOL"):
        Settings(KAFKA_SECURITY_PROTOCOL="TLS")
    with pytest.raises(ValueError, match=r"kafka_sasl_mechanism|KAFKA_SASL_MECHANISM"):
        Settings(KAFKA_SASL_MECHANISM="MD5")
