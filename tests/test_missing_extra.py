"""Without the 'ohttp' extra: the demo still passes, and OHTTP fails when it is built.

A newcomer's `pip install .` has no pyhpke. The demo must then exit 0 and say
in one line which chapter it skipped and the install line; an `Uploader` or
`GravatarFetcher` asked for Oblivious HTTP must refuse at construction with
that install line, not fail later in a background loop.

The extra is hidden by mapping ``sys.modules['pyhpke']`` to None, which makes
``import pyhpke`` raise ImportError exactly as an absent package does.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from n2net_privacy import ohttp
from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.gravatar import GravatarFetcher
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.uploader import Endpoint, ServerKeyPair
from n2net_privacy.uploader.recorder import Uploader

HIDE_PYHPKE = "import sys; sys.modules['pyhpke'] = None\n"


@pytest.fixture
def no_pyhpke(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyhpke", None)


def _egress() -> Egress:
    hosts = {
        Purpose.N2NET_API: frozenset({"api.n2net.com"}),
        Purpose.GRAVATAR: frozenset({"gravatar.com"}),
        Purpose.OHTTP_RELAY: frozenset({"relay.example"}),
    }
    return Egress(EgressPolicy(allowed_hosts=hosts))


def _config() -> ObliviousConfig:
    # Two pinned configurations (current and backup), built without pyhpke.
    configs = [ohttp.KeyConfig(key_id, ohttp.KEM_X25519_HKDF_SHA256, bytes([key_id]) * 32)
               for key_id in (1, 2)]
    return ObliviousConfig(
        relay_url="https://relay.example/relay",
        key_config_url="https://relay.example/ohttp-keys",
        key_pins=PinSet({ohttp.key_config_pin(c) for c in configs}, expires=dt.date(2099, 1, 1)),
    )


def test_the_helpers_tell_whether_the_extra_is_there(no_pyhpke: None) -> None:
    assert ohttp.extra_installed() is False
    with pytest.raises(ConfigurationError, match=r"pip install 'n2net-privacy\[ohttp\]'"):
        ohttp.require_extra()


def test_an_oblivious_uploader_without_the_extra_fails_when_built(
    no_pyhpke: None, tmp_path: Path
) -> None:
    key = ServerKeyPair.generate(key_id="k1")
    with pytest.raises(ConfigurationError, match=r"pip install 'n2net-privacy\[ohttp\]'"):
        Uploader(
            Endpoint("https://api.n2net.com", "app-key", key.public, oblivious=_config()),
            tmp_path, key_store=SimulatedAndroidKeystore(), egress=_egress(), region="US",
            start=False,
        )
    # It refused before opening anything: no queue file, no thread left to retry.
    assert list(tmp_path.iterdir()) == []


def test_an_oblivious_gravatar_fetcher_without_the_extra_fails_when_built(
    no_pyhpke: None, tmp_path: Path
) -> None:
    settings = Settings(tmp_path / "settings.json")
    with pytest.raises(ConfigurationError, match=r"pip install 'n2net-privacy\[ohttp\]'"):
        GravatarFetcher(settings, _egress(), oblivious=_config())


def test_without_the_extra_the_direct_paths_still_build(no_pyhpke: None, tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    GravatarFetcher(settings, _egress()).close()


def test_the_demo_without_the_extra_skips_chapter_5_in_one_line_and_passes(
    tmp_path: Path,
) -> None:
    code = HIDE_PYHPKE + (
        "from n2net_privacy.cli import main\n"
        "raise SystemExit(main(['demo', '--contacts', '200', '--report-dir', 'report']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    skipped = [line for line in done.stdout.splitlines() if "skipped:" in line]
    assert skipped == [
        "   skipped: Oblivious HTTP needs the 'ohttp' extra (pip install 'n2net-privacy[ohttp]')"
    ]
    assert "claims held" in done.stdout and "FAILED" not in done.stdout
