"""The rule, held at every tick: is the window shown the business window, matching its rule
(identity, title, page), with no sensitive window shown and the screen not locked?

The window's identity (title, class, executable) is checked at every tick and again right
after each read; a title that changed between two looks (a tab switch and back) drops what
waits for the look-behind, and a browser that titles a tab before repainting it gets a short
settling time with no read. Page rules (URL, input fields) are read through a page watcher:
a read is vouched for only by a look at the page taken after it (`vouched`). Sensitive windows
and pages (R10) and a locked screen are said to the engine when they change (it pauses).

Threading: the capture thread only (capture/pipeline.py owns it).
"""

from __future__ import annotations

from collections.abc import Callable

from agentapp.capture.lookbehind import PipelineStats
from agentapp.core.clock import Clock
from agentapp.core.policy import WindowRule
from agentapp.platform.base import PageWatcher, SessionLock, WindowInfo, WindowLocator

PAGE_STALE_S = 1.0  # page rules: a look at the page older than this vouches for nothing
SHOWS_OTHER_PAGE = "the business window shows another page"


class RuleWatch:
    def __init__(
        self,
        *,
        clock: Clock,
        rules: tuple[WindowRule, ...],
        sensitive: tuple[WindowRule, ...],
        lookbehind_s: float,
        stats: PipelineStats,
        drop: Callable[[str | None], None],
        on_track: Callable[[], None],
        on_sensitive: Callable[[str | None], None],
        on_lock: Callable[[str | None], None],
    ) -> None:
        """`drop(why)`: what waits goes and the status says why (None: as it is);
        `on_track`: another window (or rule) is followed from now on."""
        self._clock, self._rules, self._sensitive = clock, rules, sensitive
        self._lookbehind, self._stats = lookbehind_s, stats
        self._drop, self._on_track = drop, on_track
        self._on_sensitive, self._on_lock = on_sensitive, on_lock
        self._window_sensitive = tuple(r for r in sensitive if not r.reads_page)
        self._page_sensitive = tuple(r for r in sensitive if r.reads_page)
        self._fields = any(r.field_pattern is not None for r in sensitive)
        self.reads_page = any(r.reads_page for r in rules) or bool(self._page_sensitive)
        self.pages: PageWatcher | None = None  # set by the pipeline when `reads_page`
        self.session_lock: SessionLock | None = None
        self.window: WindowInfo | None = None
        self._rule: WindowRule | None = None
        self.identity = -1  # the window's identity serial when last seen matching
        self.settle_until = float("-inf")  # no read before: its title just changed
        self._page_serial = -1
        # reads up to this moment are vouched for by a look at the page (+inf: no page rule)
        self.vouched = float("-inf") if self.reads_page else float("inf")
        self._sensitive_seen: str | None = None
        self._page_sensitive_seen: str | None = None
        self._locked_seen: str | None = None

    def current(self, locator: WindowLocator) -> WindowInfo | None:
        """The business window if it matches a rule now; says why not (and drops what waits
        for the look-behind) otherwise."""
        still_there = False
        if self.window is not None:
            info, still_there = self.matching(locator, self.window)
            if info is not None:
                self.window = info
                self._check_identity(locator, info)
                return info if self._page_ok(info) else None
        found = locator.find(self._rules)
        if found is None:
            self._drop(SHOWS_OTHER_PAGE if still_there else "business window not found")
            return None
        info, rule = found
        if self.window is None or info.handle != self.window.handle or rule is not self._rule:
            locator.track(info, rule.popups)
            self._on_track()
        self.window, self._rule = info, rule
        self._stats.application = rule.name
        self._check_identity(locator, info)
        return info if self._page_ok(info) else None

    def _check_identity(self, locator: WindowLocator, info: WindowInfo) -> None:
        """A title that changed since the last look may have shown another page in between
        (a tab switch and back, between two ticks of a starved thread): what waits goes."""
        serial = locator.identity_serial(info)
        if serial != self.identity:
            if self.identity >= 0:
                self._drop(None)
                # a browser may title the tab before it repaints it: no read for a while
                self.settle_until = self._clock.now() + self._lookbehind / 2
            self.identity = serial

    def matching(
        self, locator: WindowLocator, window: WindowInfo
    ) -> tuple[WindowInfo | None, bool]:
        """(the window's identity now if it still matches its rule, whether it still exists)."""
        info = locator.describe(window)
        rule = self._rule
        if (
            info is not None
            and rule is not None
            and rule.matches(info.wm_class, info.executable, info.title)
        ):
            return info, True
        return None, info is not None

    def _page_ok(self, info: WindowInfo) -> bool:
        """Page rules: the page the window shows is known from a fresh look and matches its
        rule; what waits goes if it changed. Says why not (no frame) otherwise."""
        if self.pages is None:
            return True
        self.pages.follow(info, self._fields)
        st = self.pages.state()
        now = self._clock.now()
        if st.page is None or now - st.checked_at > PAGE_STALE_S:
            self._drop(st.why or "the page shown cannot be checked")
            return False
        if st.serial != self._page_serial:
            if self._page_serial >= 0:
                self._drop(None)
                self.settle_until = now + self._lookbehind / 2
            self._page_serial = st.serial
        if self._rule is not None and not self._rule.matches_page(st.page):
            self._drop(SHOWS_OTHER_PAGE)
            return False
        self.vouched = st.checked_at
        return True

    def page_moved(self) -> bool:
        """The page changed since it was last checked (during a read)."""
        return self.pages is not None and self.pages.state().serial != self._page_serial

    def _page_sensitive_name(self, locator: WindowLocator) -> str | None:
        """The sensitive rule the business window's page matches (URL, field), or None."""
        if self.pages is None or self.window is None:
            return None
        info = locator.describe(self.window) or self.window
        self.pages.follow(info, self._fields)  # also while paused: its title may change
        page = self.pages.state().page
        if page is None:
            return self._page_sensitive_seen  # cannot tell now: what was seen stands
        name = None
        for r in self._page_sensitive:
            if r.shows_in(page) and (
                not r.reads_window or r.matches(info.wm_class, info.executable, info.title)
            ):
                name = r.name
                break
        self._page_sensitive_seen = name
        return name

    def lock(self, locator: WindowLocator) -> str | None:
        """Why the screen looks locked now, or None; tells the engine when that changes."""
        why = self.session_lock.locked() if self.session_lock is not None else None
        if why is None and self.window is not None:
            why = locator.locked(self.window)
        if why != self._locked_seen:
            self._locked_seen = why
            self._on_lock(why)
        return why

    def sensitive(self, locator: WindowLocator) -> str | None:
        """Name of a visible sensitive window (or of the sensitive page the business window
        shows), or None; tells the engine when that changes."""
        if not self._sensitive:
            return None
        found = locator.find_visible(self._window_sensitive) if self._window_sensitive else None
        name = found[1].name if found else None
        if self._page_sensitive:
            name = self._page_sensitive_name(locator) or name
        if name != self._sensitive_seen:
            self._sensitive_seen = name
            self._on_sensitive(name)
        return name
