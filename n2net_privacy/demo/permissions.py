"""Demo chapters 1 and 2: contacts behind the system permission, on Android and iOS.

Policy: "only when enabled via system permission ... N2Net shows personal
contacts", and a revoke leaves the app "not hindered or interrupted".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from n2net_privacy.contacts import (
    Contact,
    ContactPage,
    ContactsDelta,
    ContactsGateway,
    InMemoryAddressBook,
)
from n2net_privacy.demo.story import Story
from n2net_privacy.errors import MissingUsageDescriptionError
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    JsonLearnedStatusStore,
    Permission,
    PermissionProvider,
    PermissionService,
    PermissionStatus,
)
from n2net_privacy.simulation import Answer, ScriptedUser, SelectContacts

__all__ = [
    "IOS_CONTACTS", "android_chapter", "ios_chapter", "restart_sdk", "revoke_during_listing",
]

S = PermissionStatus
PAGE = 50
PAGES_AFTER_REVOKE = 5
MAX_PAGES = 100_000  # a bound, never reached: the revoke comes after three pages
IOS_CONTACTS = 5  # the iOS chapter shares 3 contacts, then picks 2 more


def _full_pass(gateway: ContactsGateway) -> int:
    seen, offset = 0, 0
    while True:
        page = gateway.list_contacts(offset=offset, limit=PAGE)
        seen += len(page.items)
        if page.next_offset is None:
            return seen
        offset = page.next_offset


def revoke_during_listing(
    story: Story, gateway: ContactsGateway, revoke: Callable[[], None], who: str
) -> None:
    """List page after page on one thread while the user revokes on another.

    "After the revoke" is decided by order, not by clocks: the lister reads
    ``revoked`` (set only once ``revoke()`` has returned) *before* it asks
    for a page, so a page asked for after that moment must be empty. The
    lister keeps going until it has asked for several such pages.
    """
    before: list[int] = []
    after: list[int] = []
    errors: list[BaseException] = []
    started, revoked, finished = threading.Event(), threading.Event(), threading.Event()
    stop = threading.Event()  # set if the demo itself is stopped (Ctrl-C) mid-listing

    def lister() -> None:
        try:
            offset = 0
            while (len(after) < PAGES_AFTER_REVOKE and len(before) < MAX_PAGES
                   and not stop.is_set()):
                asked_after_revoke = revoked.is_set()
                page = gateway.list_contacts(offset=offset, limit=PAGE)
                (after if asked_after_revoke else before).append(len(page.items))
                if len(before) == 3:
                    started.set()
                offset = page.next_offset if page.next_offset is not None else 0
        except BaseException as exc:  # the claim is that nothing reaches the app
            errors.append(exc)
        finally:
            started.set()
            finished.set()

    thread = threading.Thread(target=lister, name="demo-lister")
    thread.start()
    try:
        started.wait()
        revoke()
        revoked.set()
        story.event(who, "revokes contacts access in Settings while the app is listing")
        finished.wait()
    finally:
        stop.set()
        thread.join()
    story.say(
        f"the listing thread read {len(before) + len(after)} pages; {len(after)} of them were "
        "asked for after the revoke had returned"
    )
    story.check(not errors, "no exception reached the app during the revoke")
    story.check(
        len(after) == PAGES_AFTER_REVOKE and all(n == 0 for n in after),
        "no contact came back from a page asked for after the revoke",
    )
    story.check(gateway.cached_contact_count == 0, "every cached contact was purged")


def restart_sdk(
    provider: PermissionProvider, book: list[Contact], state_file: Path
) -> tuple[PermissionService, ContactsGateway]:
    """What a relaunched app does: build the SDK again from its files, and nothing else."""
    permissions = PermissionService(provider, JsonLearnedStatusStore(state_file))
    return permissions, ContactsGateway(InMemoryAddressBook(book), permissions)


def android_chapter(story: Story, book: list[Contact], data_dir: Path) -> None:
    story.chapter("Chapter 1 - Android 14 (API 34): ask, deny, rationale, block, Settings")
    user = ScriptedUser([Answer.DENY, Answer.DENY])
    android = AndroidPermissionProvider(api_level=34, user=user)
    state_file = data_dir / "android" / "permissions.json"
    permissions, gateway = restart_sdk(android, book, state_file)
    deltas: list[ContactsDelta] = []
    gateway.subscribe(deltas.append)

    page = gateway.list_contacts(limit=PAGE)
    story.check(
        page == ContactPage(S.NOT_DETERMINED),
        "before asking, the contacts screen gets an empty page marked NOT_DETERMINED",
    )
    story.check(
        not permissions.should_show_rationale(Permission.CONTACTS),
        "should_show_rationale is false before the first request",
    )
    status = permissions.request(Permission.CONTACTS)
    story.event("user", "denies the contacts dialog")
    story.check(status is S.DENIED, f"the request returns DENIED (got {status.value})")
    story.check(
        permissions.should_show_rationale(Permission.CONTACTS),
        "after one denial should_show_rationale is true: the app explains why it asks",
    )
    status = permissions.request(Permission.CONTACTS)
    story.event("user", "denies again: on Android 11+ a second denial blocks")
    story.check(status is S.BLOCKED, f"the second denial BLOCKS (got {status.value})")
    story.check(
        not permissions.should_show_rationale(Permission.CONTACTS),
        "once blocked, should_show_rationale is false again",
    )
    dialogs = android.dialogs_shown
    status = permissions.request(Permission.CONTACTS)
    story.check(
        status is S.BLOCKED and android.dialogs_shown == dialogs,
        "a request while blocked returns BLOCKED at once, with no dialog",
    )
    story.check(
        android.check(Permission.CONTACTS) is S.DENIED
        and permissions.status(Permission.CONTACTS) is S.BLOCKED,
        "Android's own check says only DENIED; the SDK remembers it is BLOCKED",
    )
    gateway.close()
    permissions.close()
    permissions, gateway = restart_sdk(android, book, state_file)
    story.event("user", "swipes the app away and opens it again")
    gateway.subscribe(deltas.append)
    story.check(
        permissions.status(Permission.CONTACTS) is S.BLOCKED
        and android.check(Permission.CONTACTS) is S.DENIED,
        "the SDK, started again from its files, still knows BLOCKED",
    )
    android.settings_grant()
    story.event("user", "opens Settings and allows contacts")
    story.check(
        _full_pass(gateway) == len(book),
        f"with the grant, a paged pass shows all {len(book)} contacts",
    )
    story.check(
        any(d.added for d in deltas), "the app was told which contacts became visible"
    )
    revoke_during_listing(story, gateway, android.settings_revoke, "user")
    story.check(
        gateway.list_contacts() == ContactPage(S.DENIED),
        "after the revoke the app shows its no-contacts screen (DENIED), not an error",
    )
    gateway.close()
    permissions.close()
    permissions, gateway = restart_sdk(android, book, state_file)
    story.event("Android", "kills the app for the revoke; the app is started again")
    story.check(
        gateway.list_contacts() == ContactPage(S.DENIED) and gateway.cached_contact_count == 0,
        "the SDK, started again from its files after the kill, still shows DENIED and no contact",
    )

    legacy = AndroidPermissionProvider(api_level=22)
    story.check(
        legacy.request(Permission.CONTACTS) is S.GRANTED and legacy.dialogs_shown == 0,
        "on API 22 contacts are granted at install, without a dialog",
    )
    q_user = ScriptedUser([Answer.DENY, Answer.DENY_DONT_ASK_AGAIN])
    android10 = AndroidPermissionProvider(api_level=29, user=q_user)
    first, second = android10.request("contacts"), android10.request("contacts")
    story.event("user", "on Android 10 denies, then ticks \"Don't ask again\"")
    story.check(
        (first, second) == (S.DENIED, S.BLOCKED),
        "on API 23-29 only the \"Don't ask again\" checkbox blocks",
    )
    gateway.close()
    permissions.close()


def ios_chapter(story: Story, book: list[Contact], data_dir: Path) -> None:
    story.chapter("Chapter 2 - iOS 18: one prompt, limited access, Settings")
    chosen = [c.id for c in book[:3]]
    more = [c.id for c in book[3:5]]
    user = ScriptedUser([SelectContacts(chosen), SelectContacts([*chosen[:1], *more])])
    ios = IOSPermissionProvider(ios_version=18, user=user)
    state_file = data_dir / "ios" / "permissions.json"
    permissions, gateway = restart_sdk(ios, book, state_file)
    kills: list[bool] = []
    permissions.subscribe(lambda change: kills.append(change.app_killed))

    status = permissions.request(Permission.CONTACTS)
    story.event("user", f"shares {len(chosen)} selected contacts (iOS 18 limited access)")
    story.check(status is S.LIMITED, f"the request returns LIMITED (got {status.value})")
    story.check(
        _full_pass(gateway) == len(chosen), "the app sees exactly the selected contacts"
    )
    picked = ios.present_contact_picker()
    story.event(
        "user", f"keeps 1 contact, removes {len(chosen) - 1} and adds {len(more)} with the picker"
    )
    story.check(
        picked.added == frozenset(more) and picked.removed == frozenset(chosen[1:]),
        "the picker's result is the new selection, with what was added and removed",
    )
    story.check(
        _full_pass(gateway) == 1 + len(more), "the listing follows the new selection"
    )
    ios.settings_grant()
    story.event("user", "switches to Full Access in Settings (iOS kills the app)")
    story.check(
        kills[-1:] == [True] and gateway.cached_contact_count == 0,
        "iOS killed the app: the SDK had dropped every contact it held",
    )
    gateway.close()
    permissions.close()
    permissions, gateway = restart_sdk(ios, book, state_file)
    story.event("user", "opens the app again")
    story.check(
        permissions.status(Permission.CONTACTS) is S.GRANTED
        and _full_pass(gateway) == len(book),
        "the SDK, started again from its files, finds full access: every contact shows",
    )
    revoke_during_listing(story, gateway, ios.settings_revoke, "user")
    dialogs = ios.dialogs_shown
    story.check(
        permissions.request(Permission.CONTACTS) is S.BLOCKED and ios.dialogs_shown == dialogs,
        "iOS prompts once, ever: after that only Settings can change the answer",
    )

    no_plist = IOSPermissionProvider(ios_version=17, usage_description=None)
    try:
        no_plist.request(Permission.CONTACTS)
        raised = False
    except MissingUsageDescriptionError:
        raised = True
    story.check(
        raised,
        "without NSContactsUsageDescription the request is a configuration error, "
        "not a fake denial",
    )
    ios.mdm_restrict()
    story.event("MDM", "restricts contacts access (parental controls)")
    story.check(
        gateway.list_contacts() == ContactPage(S.RESTRICTED),
        "RESTRICTED is shown as a status the user cannot change",
    )
    gateway.close()
    permissions.close()
