"""The first mistakes a developer makes get the SDK's own errors, which say what to do.

A wrong type is an :class:`InvalidArgumentTypeError` (a ``TypeError``), a bad
value an :class:`InvalidArgumentError` (a ``ValueError``), a URL the door
refuses an :class:`InvalidUrlError` at construction, and a call after
``close()`` a :class:`ClosedError`. Each names the parameter (or the object)
and never quotes a phone number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy import (
    AndroidPermissionProvider,
    ClosedError,
    Contact,
    ContactPhone,
    ContactsGateway,
    DeviceContext,
    Egress,
    EgressPolicy,
    EgressPolicyError,
    GravatarConfig,
    GravatarFetcher,
    InMemoryAddressBook,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidUrlError,
    IOSPermissionProvider,
    JsonAddressBook,
    N2NetPrivacy,
    N2NetPrivacyError,
    PermissionService,
    Purpose,
    ServerKey,
    ServerKeyPair,
    Settings,
    Uploader,
    UploaderConfig,
    VCardAddressBook,
    normalize,
    normalize_many,
    to_e164,
)
from n2net_privacy.audit import EgressAuditor
from n2net_privacy.checks import (
    describe_types,
    ensure_open,
    quoted,
    require_int,
    require_type,
)
from n2net_privacy.contacts import contacts_from_records, parse_json_address_book, parse_vcard
from n2net_privacy.runtime import Runtime
from n2net_privacy.simulation import Answer, ScriptedUser, SimulatedAndroidKeystore
from n2net_privacy.uploader import Endpoint, QueueLimits, UploaderEvents

PAIR = ServerKeyPair.generate(key_id="k1")
NUMBER = "+12155552671"
BOOK = [Contact(id="ann", display_name="Ann", phones=(ContactPhone(number=NUMBER),))]


def _uploader(tmp_path: Path, **overrides: Any) -> Uploader:
    arguments: dict[str, Any] = {
        "api_url": "https://api.n2net.com",
        "app_key": "app-key",
        "server_key": PAIR.public,
        "data_dir": tmp_path,
        "key_store": SimulatedAndroidKeystore(),
        "egress": Egress(),
        "start": False,
    }
    arguments.update(overrides)
    api_url, app_key, server_key, oblivious, data_dir = (
        arguments.pop(k, None)
        for k in ("api_url", "app_key", "server_key", "oblivious", "data_dir")
    )
    return Uploader(Endpoint(api_url, app_key, server_key, oblivious), data_dir, **arguments)


def _using_uploader(tmp_path: Path, use: Callable[[Uploader], object]) -> object:
    with _uploader(tmp_path) as uploader:
        return use(uploader)


def _sdk(tmp_path: Path, **overrides: Any) -> N2NetPrivacy:
    arguments: dict[str, Any] = {
        "provider": AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT])),
        "address_book": InMemoryAddressBook(BOOK),
        "data_dir": tmp_path,
    }
    arguments.update(overrides)
    return N2NetPrivacy(**arguments)


def _gateway() -> ContactsGateway:
    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    service = PermissionService(provider)
    service.request("contacts")
    return ContactsGateway(InMemoryAddressBook(BOOK), service)


def _fetcher(**overrides: Any) -> GravatarFetcher:
    settings = Settings()
    settings.gravatar_enabled = True
    arguments: dict[str, Any] = {"settings": settings, "egress": Egress()}
    arguments.update(overrides)
    return GravatarFetcher(**arguments)


# -- the helpers themselves --------------------------------------------------------------


def test_require_type_names_the_parameter_and_both_types_never_the_value() -> None:
    with pytest.raises(InvalidArgumentTypeError) as info:
        require_type("raw", 2155552671, str, hint="pass it as text")
    assert str(info.value) == "raw must be a str, not int; pass it as text"
    assert isinstance(info.value, TypeError)
    require_type("raw", "x", str)


def test_a_bool_is_not_an_int_unless_asked_for() -> None:
    with pytest.raises(InvalidArgumentTypeError, match="limit must be an int, not bool"):
        require_type("limit", True, int)
    require_type("flag", True, (int, bool))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (5, None, ""),
        (1, None, ""),
        (10, None, ""),
        (0, InvalidArgumentError, "n must be an int from 1 to 10, not 0"),
        (11, InvalidArgumentError, "n must be an int from 1 to 10, not 11"),
        ("5", InvalidArgumentTypeError, "n must be an int, not str"),
        (5.0, InvalidArgumentTypeError, "n must be an int, not float"),
        (None, InvalidArgumentTypeError, "n must be an int, not NoneType"),
    ],
)
def test_require_int(value: object, error: type[Exception] | None, message: str) -> None:
    if error is None:
        assert require_int("n", value, 1, 10) == value
    else:
        with pytest.raises(error) as info:
            require_int("n", value, 1, 10)
        assert str(info.value) == message


def test_require_int_without_an_upper_bound() -> None:
    assert require_int("offset", 10**12, 0) == 10**12
    with pytest.raises(InvalidArgumentError, match="offset must be an int >= 0, not -1"):
        require_int("offset", -1, 0)


def test_describe_types_uses_the_right_article() -> None:
    assert describe_types(str) == "a str"
    assert describe_types(int) == "an int"
    assert describe_types((str, Path)) == "a str or a Path"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("US", "'US'"), ("nmae", "'nmae'"), ("sha256", "'sha256'"), ("n2net_api", "'n2net_api'"),
     ("gravatr", "'gravatr'"), (NUMBER, "this value"), ("2155552671", "this value"),
     ("215555267l", "this value"), ("ann@example.com", "this value"), ("Ann Smith", "this value"),
     ("", "this value"), ("x" * 33, "this value"), (5, "this value"), ("Zoë", "this value")],
)
def test_quoted_echoes_only_what_cannot_be_personal_data(value: object, shown: str) -> None:
    assert quoted(value) == shown


def test_ensure_open() -> None:
    ensure_open(False, "Thing")
    with pytest.raises(ClosedError) as info:
        ensure_open(True, "Thing")
    assert info.value.name == "Thing"
    assert "Thing is closed" in str(info.value)


# -- the first mistakes, at every public entry point ---------------------------------

Call = Callable[[Path], object]

TYPE_MISTAKES: list[tuple[str, Call, list[str]]] = [
    ("to_e164 an int", lambda _: to_e164(2155552671), ["raw must be a str, not int", "as text"]),  # type: ignore[arg-type]
    ("normalize None", lambda _: normalize(None), ["raw must be a str"]),  # type: ignore[arg-type]
    ("region an int", lambda _: to_e164(NUMBER, 1), ["region must be a str or a DeviceContext"]),  # type: ignore[arg-type]
    ("normalize_many one str", lambda _: normalize_many(NUMBER), ["numbers", "normalize()"]),
    ("normalize_many an int item", lambda _: list(normalize_many([NUMBER, 12])),  # type: ignore[list-item]
     ["numbers[1] must be a str, not int"]),
    ("provider a str", lambda p: _sdk(p, provider="android"),
     ["provider must be a PermissionProvider, not str", "AndroidPermissionProvider(api_level="]),
    ("address_book a list", lambda p: _sdk(p, address_book=BOOK),
     ["address_book must be an AddressBookSource", "InMemoryAddressBook(contacts)"]),
    ("data_dir an int", lambda p: _sdk(p, data_dir=5), ["data_dir must be"]),
    ("gravatar a dict", lambda p: _sdk(p, gravatar={"size": 80}), ["gravatar must be"]),
    ("a key pair in UploaderConfig", lambda _: UploaderConfig(
        api_url="https://api.n2net.com", app_key="k", server_key=PAIR,  # type: ignore[arg-type]
        key_store=SimulatedAndroidKeystore()), ["server_key must be a ServerKey", ".public"]),
    ("a key pair in Uploader", lambda p: _uploader(p, server_key=PAIR),
     ["server_key must be a ServerKey, not a ServerKeyPair", "pass its .public"]),
    ("a key pair in a key list", lambda p: _uploader(p, server_key=[PAIR.public, PAIR]),
     ["server_key[1] must be a ServerKey", ".public"]),
    ("server_key a str", lambda p: _uploader(p, server_key="k1"), ["server_key must be"]),
    ("api_url an int", lambda p: _uploader(p, api_url=443), ["api_url must be a str"]),
    ("app_key None", lambda p: _uploader(p, app_key=None), ["app_key must be a str"]),
    ("key_store a str", lambda p: _uploader(p, key_store="keychain"),
     ["key_store must be a KeyStore", "SimulatedAndroidKeystore()"]),
    ("egress a policy", lambda p: _uploader(p, egress=EgressPolicy()),
     ["egress must be an Egress"]),
    ("queue bound a str", lambda _: QueueLimits(max_events="10"),  # type: ignore[arg-type]
     ["max_events must be an int, not str"]),
    ("cache size a str", lambda _: QueueLimits(normalize_cache_size="5"),  # type: ignore[arg-type]
     ["normalize_cache_size must be an int"]),
    ("power_safe a str", lambda _: QueueLimits(power_safe="yes"),  # type: ignore[arg-type]
     ["power_safe must be a bool"]),
    ("sending a dict", lambda p: _uploader(p, sending={}), ["sending must be a SenderConfig"]),
    ("limits a dict", lambda p: _uploader(p, limits={}), ["limits must be a QueueLimits"]),
    ("events a callable", lambda p: _uploader(p, events=print),
     ["events must be an UploaderEvents"]),
    ("on_status a str", lambda _: UploaderEvents(on_status="log"),  # type: ignore[arg-type]
     ["on_status must be callable, not str"]),
    ("runtime.rng an int", lambda _: Runtime(rng=7),  # type: ignore[arg-type]
     ["runtime.rng must be a Random"]),
    ("endpoint a str", lambda p: Uploader("https://api.n2net.com", p,  # type: ignore[arg-type]
                                          key_store=SimulatedAndroidKeystore(), egress=Egress()),
     ["endpoint must be an Endpoint"]),
    ("duration a str", lambda p: _using_uploader(p, lambda u: u.record_call(NUMBER, "10")),  # type: ignore[arg-type]
     ["duration_s must be an int, not str"]),
    ("to an int", lambda p: _using_uploader(p, lambda u: u.record_sms(2155552671)),  # type: ignore[arg-type]
     ["to must be a str or have a str .number"]),
    ("limit a str", lambda _: _gateway().list_contacts(limit="20"),  # type: ignore[arg-type]
     ["limit must be an int, not str"]),
    ("offset a float", lambda _: _gateway().list_contacts(offset=1.0),  # type: ignore[arg-type]
     ["offset must be an int, not float"]),
    ("fields one str", lambda _: _gateway().list_contacts(fields="name"),
     ["fields must be a collection of field names", "{'name'}"]),
    ("search an int", lambda _: _gateway().search_by_number(2155552671),  # type: ignore[arg-type]
     ["number must be a str, not int"]),
    ("contact_id an int", lambda _: _gateway().get_contact(7),  # type: ignore[arg-type]
     ["contact_id must be a str"]),
    ("gateway over a list", lambda _: ContactsGateway(BOOK, PermissionService(  # type: ignore[arg-type]
        AndroidPermissionProvider(api_level=34))), ["source must be an AddressBookSource"]),
    ("service over a str", lambda _: PermissionService("ios"),  # type: ignore[arg-type]
     ["provider must be a PermissionProvider", "IOSPermissionProvider(ios_version="]),
    ("api_level a str", lambda _: AndroidPermissionProvider(api_level="34"),  # type: ignore[arg-type]
     ["api_level must be an int, not str"]),
    ("ios_version a float", lambda _: IOSPermissionProvider(ios_version=18.0),  # type: ignore[arg-type]
     ["ios_version must be an int, not float"]),
    ("concurrency a str", lambda _: GravatarConfig(concurrency="8"),  # type: ignore[arg-type]
     ["concurrency must be an int, not str"]),
    ("fetcher egress a str", lambda _: _fetcher(egress="https://www.gravatar.com"),
     ["egress must be an Egress"]),
    ("fetch an int", lambda _: _fetcher().fetch(42),  # type: ignore[arg-type]
     ["contact must be a Contact"]),
    ("fetch_many one str", lambda _: asyncio.run(_fetcher().fetch_many("ann@example.com")),
     ["contacts must be an iterable of contacts, not one str"]),
    ("Egress policy a dict", lambda _: Egress({}),  # type: ignore[arg-type]
     ["policy must be an EgressPolicy"]),
    ("client purpose a str", lambda _: Egress().client("gravatar"),  # type: ignore[arg-type]
     ["purpose must be a Purpose"]),
    # The sweep: the other public constructors and parsers an app calls first.
    ("toggle a str", lambda _: setattr(Settings(), "gravatar_enabled", "yes"),
     ["gravatar_enabled must be a bool, not str"]),
    ("settings path an int", lambda _: Settings(5), ["path must be"]),  # type: ignore[arg-type]
    ("sim_region an int", lambda _: DeviceContext(sim_region=5),  # type: ignore[arg-type]
     ["sim_region must be a str", "'US'"]),
    ("locale None", lambda _: DeviceContext.from_locale(None),  # type: ignore[arg-type]
     ["locale must be a str"]),
    ("json book path an int", lambda _: JsonAddressBook(5), ["path must be"]),  # type: ignore[arg-type]
    ("vcard book path None", lambda _: VCardAddressBook(None), ["path must be"]),  # type: ignore[arg-type]
    ("book of dicts", lambda _: InMemoryAddressBook([{"id": "a"}]),  # type: ignore[list-item]
     ["contacts[0] must be a Contact, not dict", "contacts_from_records()"]),
    ("book an int", lambda _: InMemoryAddressBook(5), ["contacts must be"]),  # type: ignore[arg-type]
    ("records an int", lambda _: contacts_from_records(5), ["records must be"]),  # type: ignore[arg-type]
    ("records one dict", lambda _: contacts_from_records({"id": "a"}),  # type: ignore[arg-type]
     ["records must be a list"]),
    ("vcard text an int", lambda _: parse_vcard(5), ["text must be a str"]),  # type: ignore[arg-type]
    ("json text an int", lambda _: parse_json_address_book(5),  # type: ignore[arg-type]
     ["text must be a str or a bytes"]),
    ("hosts a list", lambda _: EgressPolicy(allowed_hosts=["api.n2net.com"]),  # type: ignore[arg-type]
     ["allowed_hosts must be a Mapping"]),
    ("hosts one str", lambda _: EgressPolicy(  # the str would allow 'a', 'p', 'i', ...
        allowed_hosts={Purpose.N2NET_API: "api.n2net.com"}),  # type: ignore[dict-item]
     ["allowed_hosts[Purpose.N2NET_API] must be a collection of str"]),
    ("test_mode a str", lambda _: EgressPolicy(test_mode="yes"),  # type: ignore[arg-type]
     ["test_mode must be a bool"]),
    ("script one str", lambda _: ScriptedUser("grant"),  # type: ignore[arg-type]
     ["answers must be a list of answers", "[Answer.GRANT]"]),
    ("auditor over a str", lambda _: EgressAuditor("ann"),  # type: ignore[arg-type]
     ["address_book must be the contacts"]),
    ("key bytes as str", lambda _: ServerKey("k1", "a key"),  # type: ignore[arg-type]
     ["public_key must be an X25519", "from_raw()"]),
    ("raw key a str", lambda _: ServerKey.from_raw("k1", "00" * 32),  # type: ignore[arg-type]
     ["data must be a bytes"]),
    ("key id an int", lambda _: ServerKey.from_raw(1, b"\x01" * 32),  # type: ignore[arg-type]
     ["key_id must be a str"]),
]


@pytest.mark.parametrize(("call", "expected"), [case[1:] for case in TYPE_MISTAKES],
                         ids=[case[0] for case in TYPE_MISTAKES])
def test_a_wrong_type_is_the_sdks_type_error(
    tmp_path: Path, call: Call, expected: list[str]
) -> None:
    with pytest.raises(InvalidArgumentTypeError) as info:
        call(tmp_path)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, N2NetPrivacyError)
    for fragment in expected:
        assert fragment in str(info.value)
    assert "2155552671" not in str(info.value)  # the value is never quoted


VALUE_MISTAKES: list[tuple[str, Call, list[str]]] = [
    ("unknown region", lambda _: to_e164(NUMBER, "XX"), ["unknown region 'XX'", "'US'"]),
    ("negative cache", lambda _: normalize_many([], cache_size=-1), ["cache_size must be"]),
    ("api_level 1000", lambda _: AndroidPermissionProvider(api_level=1000),
     ["api_level must be an int from 1 to 40, not 1000"]),
    ("api_level 0", lambda _: AndroidPermissionProvider(api_level=0), ["api_level"]),
    ("auto_reset_days 0", lambda _: AndroidPermissionProvider(api_level=34, auto_reset_days=0),
     ["auto_reset_days must be positive"]),
    ("ios_version 180", lambda _: IOSPermissionProvider(ios_version=180),
     ["ios_version must be an int from 1 to 30, not 180"]),
    ("limit 0", lambda _: _gateway().list_contacts(limit=0), ["limit must be an int from 1 to"]),
    ("a misspelt field", lambda _: _gateway().list_contacts(fields=["nmae"]),
     ["'nmae' is not a contact field", "'emails', 'name', 'phones'"]),
    ("a field that is data", lambda _: _gateway().search_by_name("Ann", fields=[NUMBER]),
     ["this value is not a contact field"]),
    ("arguments swapped", lambda _: to_e164("US", NUMBER), ["unknown region this value"]),
    ("a number as the rating", lambda _: GravatarConfig(rating=NUMBER),
     ["unknown rating this value"]),
    ("duration negative", lambda p: _using_uploader(p, lambda u: u.record_call(NUMBER, -1)),
     ["duration_s must be an int from 0 to"]),
    ("duration past int32", lambda p: _using_uploader(p, lambda u: u.record_call(NUMBER, 2**31)),
     ["duration_s must be an int from 0 to"]),
    ("no server keys", lambda p: _uploader(p, server_key=[]), ["server_key"]),
    ("queue bound 0", lambda _: QueueLimits(max_bytes=0),
     ["max_bytes must be an int >= 1, not 0"]),
    ("app key with a space", lambda p: _uploader(p, app_key="a b"), ["app_key"]),
    ("Gravatar over http", lambda _: GravatarConfig(base_url="http://www.gravatar.com/avatar/"),
     ["base_url", "https://"]),
    ("Gravatar over ftp", lambda _: GravatarConfig(base_url="ftp://www.gravatar.com/avatar/"),
     ["base_url", "https:// is required"]),
    ("Gravatar timeout 0", lambda _: GravatarConfig(timeout=0), ["timeout must be positive"]),
    ("unknown hash algorithm", lambda _: setattr(Settings(), "gravatar_hash_algorithm", "sha1"),
     ["unknown hash algorithm 'sha1'", "'md5'"]),
    ("unknown purpose", lambda _: EgressPolicy(allowed_hosts={"gravatr": frozenset({"a"})}),
     ["'gravatr' is not a purpose", "Purpose.GRAVATAR"]),
    ("unknown key kind", lambda _: ServerKeyPair.generate("rsa"),  # type: ignore[arg-type]
     ["unknown key kind 'rsa'", "'x25519'"]),
    ("bad key id", lambda _: ServerKey.from_raw("bad id", b"\x01" * 32), ["key_id must be"]),
]


@pytest.mark.parametrize(("call", "expected"), [case[1:] for case in VALUE_MISTAKES],
                         ids=[case[0] for case in VALUE_MISTAKES])
def test_a_bad_value_is_the_sdks_value_error(
    tmp_path: Path, call: Call, expected: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        call(tmp_path)
    assert isinstance(info.value, N2NetPrivacyError)
    if "duration" in str(info.value):  # issue 24: not an UploaderError
        assert isinstance(info.value, InvalidArgumentError)
    for fragment in expected:
        assert fragment in str(info.value)
    assert "2155552671" not in str(info.value)


def test_a_garbage_number_shows_only_its_redacted_form() -> None:
    with pytest.raises(ValueError) as info:
        to_e164("+1 215 555 2671 999 999 999")
    assert "2155552671" not in str(info.value).replace(" ", "")
    assert "*" in str(info.value)


# -- URLs: https, and the way to a loopback test server -------------------------------

LOOPBACK_POLICY = EgressPolicy({Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)


@pytest.mark.parametrize(
    ("url", "policy", "says", "never"),
    [
        ("http://api.n2net.com", None, ["api_url", "https://", "use https://api.n2net.com"],
         "port 80"),
        ("ftp://api.n2net.com", None, ["api_url", "ftp://", "only over https://"], "port 0"),
        ("https://127.0.0.1:8443", None, ["EgressPolicy(allowed_hosts=", "test_mode=True"], ""),
        ("http://127.0.0.1:8443", None, ["for tests only", "test_mode=True"], "port"),
        ("http://localhost:8443", EgressPolicy(test_mode=True), ["allowed_hosts"], "port"),
        ("https://api.n2net.com:8443", None, ["port 8443", "'api.n2net.com:8443'"], ""),
        ("https://evil.example", None, ["host 'evil.example' is not allowed"], "test_mode"),
        ("https://user:pw@api.n2net.com", None, ["no user info"], "pw"),
        ("https://api.n2net.com/?q=1", None, ["no user info, query or fragment"], ""),
        ("api.n2net.com", None, ["api_url must be a URL such as 'https://"], ""),
        ("https://api.n2net.com:99999", None, ["api_url must be a URL"], ""),
    ],
)
def test_a_refused_api_url_says_what_to_do(
    tmp_path: Path, url: str, policy: EgressPolicy | None, says: list[str], never: str
) -> None:
    with pytest.raises(InvalidUrlError) as info:
        _uploader(tmp_path, api_url=url, egress=Egress(policy))
    message = str(info.value)
    assert isinstance(info.value, EgressPolicyError) and isinstance(info.value, ValueError)
    for fragment in says:
        assert fragment in message
    if never:
        assert never not in message


@pytest.mark.parametrize(
    "url", ["https://api.n2net.com", "https://api.n2net.com/", "https://API.n2net.com/v1"]
)
def test_good_api_urls_still_pass(tmp_path: Path, url: str) -> None:
    _uploader(tmp_path, api_url=url).close()


def test_a_loopback_test_server_passes_with_the_test_policy(tmp_path: Path) -> None:
    _uploader(tmp_path, api_url="http://127.0.0.1:8080", egress=Egress(LOOPBACK_POLICY)).close()


def test_the_door_says_https_at_request_time_too() -> None:
    # The same rule at the gate, for a URL built later (not only at construction).
    policy = EgressPolicy()
    with pytest.raises(EgressPolicyError, match=r"only over https://") as info:
        policy.check(Purpose.N2NET_API, "http", "api.n2net.com")
    assert "port" not in str(info.value)


@pytest.mark.parametrize("build", ["uploader", "fetcher"])
def test_a_relay_url_is_checked_when_the_object_is_built(tmp_path: Path, build: str) -> None:
    import datetime as dt

    from n2net_privacy import ohttp
    from n2net_privacy.egress import PinSet
    from n2net_privacy.ohttp.client import ObliviousConfig

    configs = [ohttp.KeyConfig(key_id, ohttp.KEM_X25519_HKDF_SHA256, bytes([key_id]) * 32)
               for key_id in (1, 2)]
    pins = PinSet({ohttp.key_config_pin(c) for c in configs}, expires=dt.date(2099, 1, 1))
    relay = ObliviousConfig(relay_url="http://relay.example/",
                            key_config_url="http://relay.example/keys", key_pins=pins)
    with pytest.raises(InvalidUrlError, match=r"oblivious\.relay_url: http:// to 'relay\.example'"):
        if build == "uploader":
            _uploader(tmp_path, oblivious=relay)
        else:
            _fetcher(oblivious=relay)


def test_gravatar_config_admits_a_loopback_test_server_over_http() -> None:
    assert GravatarConfig(base_url="http://127.0.0.1:9000/avatar/").base_url.startswith("http:")


# -- use after close() ---------------------------------------------------------------


def _closed_sdk(tmp_path: Path) -> N2NetPrivacy:
    sdk = _sdk(tmp_path, uploader=UploaderConfig(
        api_url="https://api.n2net.com", app_key="k", server_key=PAIR.public,
        key_store=SimulatedAndroidKeystore()))
    sdk.close()
    return sdk


def _closed(make: Callable[[Path], Any]) -> Callable[[Path], Any]:
    def build(path: Path) -> Any:
        thing = make(path)
        thing.close()
        thing.close()  # idempotent
        return thing
    return build


async def _closed_async_client() -> None:
    client = Egress().async_client(Purpose.GRAVATAR)
    await client.aclose()
    await client.request("GET", "https://www.gravatar.com/avatar/x")


CLOSED: list[tuple[str, Callable[[Path], Any], Callable[[Any], object], str]] = [
    ("sdk record_sms", _closed_sdk, lambda s: s.record_sms(NUMBER), "N2NetPrivacy"),
    ("sdk record_call", _closed_sdk, lambda s: s.record_call(NUMBER, 3), "N2NetPrivacy"),
    ("sdk contacts", _closed_sdk, lambda s: s.contacts.list_contacts(), "ContactsGateway"),
    ("sdk permissions", _closed_sdk, lambda s: s.permissions.request("contacts"),
     "PermissionService"),
    ("sdk avatars", _closed_sdk, lambda s: s.avatars.fetch("ann@example.com"), "GravatarFetcher"),
    ("sdk uploader", _closed_sdk, lambda s: s.uploader.record_sms(NUMBER), "Uploader"),
    ("uploader", _closed(_uploader), lambda u: u.record_sms(NUMBER), "Uploader"),
    ("uploader keys", _closed(_uploader), lambda u: u.set_server_keys(PAIR.public), "Uploader"),
    ("uploader counts", _closed(_uploader), lambda u: u.skipped_counts(), "Uploader"),
    ("gateway list", _closed(lambda _: _gateway()), lambda g: g.list_contacts(), "ContactsGateway"),
    ("gateway search", _closed(lambda _: _gateway()), lambda g: g.search_by_name("a"),
     "ContactsGateway"),
    ("gateway get", _closed(lambda _: _gateway()), lambda g: g.get_contact("ann"),
     "ContactsGateway"),
    ("gateway status", _closed(lambda _: _gateway()), lambda g: g.status(), "ContactsGateway"),
    ("gateway subscribe", _closed(lambda _: _gateway()), lambda g: g.subscribe(print),
     "ContactsGateway"),
    ("service status", _closed(lambda _: PermissionService(AndroidPermissionProvider(
        api_level=34))), lambda s: s.status("contacts"), "PermissionService"),
    ("fetcher fetch", _closed(lambda _: _fetcher()), lambda f: f.fetch("ann@example.com"),
     "GravatarFetcher"),
    ("fetcher fetch_many", _closed(lambda _: _fetcher()),
     lambda f: asyncio.run(f.fetch_many(["ann@example.com"])), "GravatarFetcher"),
    ("egress client", _closed(lambda _: Egress().client(Purpose.GRAVATAR)),
     lambda c: c.request("GET", "https://www.gravatar.com/avatar/x"), "EgressClient"),
    ("async egress client", lambda _: None, lambda _: asyncio.run(_closed_async_client()),
     "AsyncEgressClient"),
]


@pytest.mark.parametrize(("make", "use", "name"), [case[1:] for case in CLOSED],
                         ids=[case[0] for case in CLOSED])
def test_a_call_after_close_is_a_closed_error_naming_the_object(
    tmp_path: Path, make: Callable[[Path], Any], use: Callable[[Any], object], name: str
) -> None:
    thing = make(tmp_path)
    with pytest.raises(ClosedError) as info:
        use(thing)
    assert info.value.name == name
    assert f"this {name} is closed" in str(info.value)


def test_closing_the_facade_twice_is_harmless(tmp_path: Path) -> None:
    sdk = _closed_sdk(tmp_path)
    sdk.close()
    with _sdk(tmp_path / "again") as other:
        assert other.contacts.status() is not None
