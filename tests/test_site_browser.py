"""The show's web pages in a real browser: Debian's Chromium driven by Selenium, pages served by `narrate serve`.

The show is built with the fake engine (a tone per word, so an episode is long enough to hear several cues
go by). The audio really plays (muted, autoplay allowed): the highlighted cue must follow
`audio.currentTime` within 250 ms, clicking a cue or a chapter seeks there, `#t=` starts there, the page
works without JavaScript, and axe-core (vendored in tests/data/axe-core) finds nothing serious or critical.
Screenshots at desktop and phone widths go to `test-screenshots/` (or $NARRATE_SCREENSHOTS) for a person.

Selenium is given the chromedriver's path, so Selenium Manager never looks for (or downloads) a browser.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from narrate.build import BuildOptions, build
from narrate.record import load_record
from narrate.serve import serve_in_thread
from narrate.transcript import parse_webvtt
from tests.conftest import require_tool, show_yaml, write_show

os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no statistics, and it is never run here
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(__file__).parent / "data" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("NARRATE_SCREENSHOTS", ROOT / "test-screenshots"))
TODAY = dt.date(2026, 6, 1)
#: Written as it must render: markup characters, quotes, an emoji and Czech.
SHOW_TITLE = "Čtení <b>nahlas</b> & \"přátelé\" 'ok' 🎙️"
EPISODE_TITLE = "Dopis <script>alert(1)</script> & “Brežněv” 'x' 📜"
LONG = f"""\
---
title: {json.dumps(EPISODE_TITLE, ensure_ascii=False)}
episode: 1
date: 2026-01-05
summary: "Příliš žluťoučký kůň úpěl ďábelské ódy <i>not markup</i> & more."
document:
  title: "Dopis <Brežněvovi>"
  authors: [Alois Indra, Vasil Biľak]
  date: August 1968
  translator: Mark Kramer
  source: "Archive & <collection>"
  url: https://example.org/source?a=1&b=2
  rights: "Quoted for research."
---

# Opening words

{" ".join(f"Sentence number {n} is short." for n in range(1, 9))}

> {" ".join(f"Quoted line {n} <sic> & so on." for n in range(1, 6))}

# Second chapter

{" ".join(f"Later sentence {n} goes by." for n in range(1, 9))}

# Third chapter

::: note
{" ".join(f"A note {n} here." for n in range(1, 5))}
:::
"""
SECOND = """\
---
title: "Second episode"
episode: 2
date: 2026-01-12
summary: The second one.
---

# Only chapter

Narration for the second episode.
"""
FUTURE = SECOND.replace("episode: 2", "episode: 3").replace("2026-01-12", "2027-01-01").replace(
    "Second episode", "Future episode")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The show built and served by narrate's preview server on a free loopback port."""
    tmp = tmp_path_factory.mktemp("site")
    scripts = write_show(tmp / "scripts", show_yaml(SHOW_TITLE),
                         {"001-long.md": LONG, "002-second.md": SECOND, "003-future.md": FUTURE})
    out = tmp / "out"
    build(scripts, BuildOptions(output=out, cache_dir=tmp / "cache", in_process=True, today=TODAY))
    server, thread, base = _serve(out)
    try:
        yield {"out": out, "base": base, "record": load_record(out),
               "pages": [base, f"{base}episodes/001-long.html", f"{base}episodes/002-second.html"]}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _serve(out: Path) -> tuple[object, object, str]:
    server, thread = serve_in_thread(out, "127.0.0.1", 0)
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The shipped show's own scripts, built with the fake engine at a fast rate (its text, quick audio), served."""
    tmp = tmp_path_factory.mktemp("shipped")
    scripts = tmp / "scripts"
    scripts.mkdir()
    for path in (ROOT / "scripts").iterdir():
        if path.is_file():
            shutil.copy(path, scripts / path.name)
    show = (scripts / "show.yaml").read_text(encoding="utf-8")
    fake = re.sub(r"engine: pyttsx3, voice: [^,}]+, rate: \d+", "engine: fake, voice: low, rate: 500", show)
    assert fake.count("engine: fake") == 3, "the shipped show's three voices"
    (scripts / "show.yaml").write_text(fake, encoding="utf-8")
    out = tmp / "out"
    build(scripts, BuildOptions(output=out, cache_dir=tmp / "cache", in_process=True, today=dt.date(2030, 1, 1)))
    server, thread, base = _serve(out)
    record = load_record(out)
    try:
        yield {"out": out, "base": base, "record": record,
               "pages": [base, *(f"{base}episodes/{slug}.html" for slug in sorted(record))]}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _driver(javascript: bool = True) -> tuple[object, Path]:
    chromium = require_tool("chromium")
    chromedriver = require_tool("chromedriver")
    profile = Path(tempfile.mkdtemp(prefix="narrate-chromium-"))
    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--window-size=1280,900",
                 f"--user-data-dir={profile}", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    try:
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_script_timeout(30)
    return driver, profile


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    driver, profile = _driver()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _episode_url(site: dict, slug: str = "001-long") -> str:
    return f"{site['base']}episodes/{slug}.html"


def _open(browser, url: str) -> None:
    browser.get("about:blank")  # a new document, even when only the fragment differs
    browser.get(url)
    _wait(browser, "return document.querySelector('audio') === null || document.querySelector('audio').readyState >= 1")


def _center(browser, element) -> None:
    """Scroll an element to the middle of the window at once (the page scrolls smoothly; Selenium would race it)."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)


def _wait(browser, script: str, timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.05)


# One round trip reads the clock and the highlight together (the page's script cannot run in between).
SAMPLE = """
const audio = document.querySelector('audio');
const cues = [...document.querySelectorAll('.cue[data-start]')];
const t = audio.currentTime;
let expected = -1;
cues.forEach((c, i) => { if (parseFloat(c.dataset.start) <= t + 0.0005) expected = i; });
const current = cues.findIndex(c => c.getAttribute('aria-current') === 'true');
const marked = cues.filter(c => c.hasAttribute('aria-current')).length;
return [t, expected, current, marked, expected >= 0 ? parseFloat(cues[expected].dataset.start) : 0, audio.paused];
"""


# Records audio.currentTime at the moment each cue is marked current: the exact lag of every change.
OBSERVE = """
window.marks = [];
new MutationObserver(records => records.forEach(r => {
  if (r.target.getAttribute('aria-current') === 'true')
    marks.push([document.querySelector('audio').currentTime, parseFloat(r.target.dataset.start)]);
})).observe(document.querySelector('.transcript'), {subtree: true, attributeFilter: ['aria-current']});
"""


def test_the_highlighted_cue_follows_the_audio_within_250_ms(site: dict, browser) -> None:
    _open(browser, _episode_url(site))
    browser.execute_script("document.querySelector('.cue').scrollIntoView({block: 'center'});")
    browser.execute_script(OBSERVE)
    browser.execute_script("document.querySelector('audio').play()")
    _wait(browser, "return document.querySelector('audio').currentTime > 0.05")
    worst, samples, changes, last = 0.0, 0, set(), None
    deadline = time.monotonic() + 7.0
    while time.monotonic() < deadline:
        t, expected, current, marked, start, paused = browser.execute_script(SAMPLE)
        assert not paused, "the audio stopped playing"
        assert marked <= 1, "only one cue is current at a time"
        samples += 1
        if expected != current:
            worst = max(worst, t - start)  # the expected cue began `t - start` ago and is not yet shown
        if current != last:
            changes.add(current)
            last = current
        time.sleep(0.01)
    browser.execute_script("document.querySelector('audio').pause()")
    marks = browser.execute_script("return marks")
    lags = [t - start for t, start in marks]
    print(f"\nhighlight lag: worst {worst * 1000:.0f} ms over {samples} samples, {len(changes)} cues highlighted; "
          f"at each change: worst {max(lags) * 1000:.0f} ms, mean {sum(lags) / len(lags) * 1000:.0f} ms "
          f"over {len(lags)} changes")
    assert len(changes) >= 4, f"only {len(changes)} cues were highlighted while playing 7 s"
    assert worst <= 0.25, f"the highlight lagged {worst * 1000:.0f} ms behind the audio"
    assert len(marks) >= 4 and all(-0.001 <= lag <= 0.25 for lag in lags), lags
    # A reader who followed along is kept in view: the current cue is on screen.
    assert browser.execute_script(
        "const c = document.querySelector('.cue[aria-current=true]').getBoundingClientRect();"
        "return c.top >= 0 && c.bottom <= innerHeight;")


def test_a_reader_who_scrolled_away_is_left_where_they_are(site: dict, browser) -> None:
    _open(browser, _episode_url(site))
    browser.execute_script("document.querySelector('audio').play();")
    time.sleep(0.3)
    # The reader scrolls to the end (instantly: the page's smooth scrolling would still be on its way).
    browser.execute_script("window.scrollTo({top: document.body.scrollHeight, behavior: 'instant'})")
    at = browser.execute_script("return window.scrollY")
    before = browser.execute_script(SAMPLE)[2]
    _wait(browser, f"return [...document.querySelectorAll('.cue')].findIndex("
                   f"c => c.getAttribute('aria-current') === 'true') > {max(before, 0) + 1}", timeout=10)
    browser.execute_script("document.querySelector('audio').pause()")
    assert browser.execute_script("return window.scrollY") == at, "the page scrolled although the reader had left"


def test_clicking_a_cue_and_a_chapter_seeks_there(site: dict, browser) -> None:
    _open(browser, _episode_url(site))
    cue = browser.find_elements(By.CSS_SELECTOR, ".cue[data-start]")[7]
    _center(browser, cue)
    cue.find_element(By.CSS_SELECTOR, ".x").click()
    start = float(cue.get_attribute("data-start"))
    assert abs(browser.execute_script("return document.querySelector('audio').currentTime") - start) < 0.3
    assert cue.get_attribute("aria-current") == "true"
    chapter = browser.find_elements(By.CSS_SELECTOR, "nav.chapters a[data-start]")[1]
    chapter_start = float(chapter.get_attribute("data-start"))
    assert chapter_start > 0
    _center(browser, chapter)
    chapter.click()
    assert abs(browser.execute_script("return document.querySelector('audio').currentTime") - chapter_start) < 0.3
    # The chapter's link scrolls to it in the transcript.
    assert browser.execute_script("return location.hash") == "#chapter-2"
    browser.execute_script("document.querySelector('audio').pause()")


def test_the_keyboard_seeks_and_focus_is_visible(site: dict, browser) -> None:
    _open(browser, _episode_url(site))
    link = browser.find_elements(By.CSS_SELECTOR, ".cue .t")[3]
    browser.execute_script("arguments[0].focus()", link)
    assert browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle") != "none"
    link.send_keys(Keys.ENTER)
    start = float(link.find_element(By.XPATH, "..").get_attribute("data-start"))
    assert abs(browser.execute_script("return document.querySelector('audio').currentTime") - start) < 0.3
    assert browser.current_url.startswith(_episode_url(site)), "Enter on a cue seeks in the page, not away"
    browser.execute_script("document.querySelector('audio').pause()")


@pytest.mark.parametrize("fragment", ["#t=12", "#t=0:12", "#t=12.000"])
def test_a_time_fragment_starts_there(site: dict, browser, fragment: str) -> None:
    _open(browser, _episode_url(site) + fragment)
    assert abs(browser.execute_script("return document.querySelector('audio').currentTime") - 12) < 0.05
    t, expected, current, *_ = browser.execute_script(SAMPLE)
    assert current == expected >= 0


def test_copy_link_to_here_copies_the_cues_address(site: dict, browser) -> None:
    _open(browser, _episode_url(site))
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": site["base"].rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    cue = browser.find_elements(By.CSS_SELECTOR, ".cue[data-start]")[5]
    _center(browser, cue)
    # By keyboard: the cue's time link, then Tab to its copy button (shown while the cue has focus), then Enter.
    browser.execute_script("arguments[0].focus()", cue.find_element(By.CSS_SELECTOR, ".t"))
    browser.switch_to.active_element.send_keys(Keys.TAB)
    button = browser.switch_to.active_element
    assert button == cue.find_element(By.CSS_SELECTOR, "button.copy") and button.is_displayed()
    assert button.get_attribute("aria-label") == f"Copy link to {cue.find_element(By.CSS_SELECTOR, '.t').text}"
    button.send_keys(Keys.ENTER)
    expected = f"{_episode_url(site)}#t={cue.get_attribute('data-start')}"
    _wait(browser, "return document.querySelector('.status').textContent === 'Link copied'")
    copied = browser.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('error: ' + e));")
    assert copied == expected
    # The copied link works: it starts at that cue.
    _open(browser, copied)
    assert browser.execute_script(SAMPLE)[2] == 5


def test_text_renders_as_written(site: dict, browser) -> None:
    _open(browser, site["base"])
    assert browser.title == SHOW_TITLE
    assert browser.find_element(By.TAG_NAME, "h1").text == SHOW_TITLE
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".episodes h3")]
    assert titles == ["Second episode", EPISODE_TITLE], "newest first, the future episode absent"
    assert browser.find_element(By.ID, "feed-url").get_attribute("value") == f"{site['base']}feed.xml", \
        "served by narrate serve, the subscribe address is the server's own"
    browser.find_element(By.LINK_TEXT, EPISODE_TITLE).click()
    assert browser.find_element(By.TAG_NAME, "h1").text == EPISODE_TITLE
    assert browser.title == f"{EPISODE_TITLE} · {SHOW_TITLE}"
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1
    body = browser.find_element(By.TAG_NAME, "main").text
    assert "Quoted line 1 <sic> & so on." in body
    assert "Příliš žluťoučký kůň úpěl ďábelské ódy <i>not markup</i> & more." in body
    assert "Dopis <Brežněvovi>" in body and "Archive & <collection>" in body
    assert browser.find_element(By.LINK_TEXT, "Dopis <Brežněvovi>").get_attribute("href") == \
        "https://example.org/source?a=1&b=2"
    document = browser.find_elements(By.CSS_SELECTOR, ".run.document blockquote .cue")
    assert len(document) == 5, "the document's passage is set apart, in a blockquote"


def test_reduced_motion_scrolls_without_animation(site: dict, browser) -> None:
    try:
        for motion, behaviour in (("no-preference", "smooth"), ("reduce", "auto")):
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
                {"name": "prefers-reduced-motion", "value": motion}]})
            _open(browser, _episode_url(site))
            assert browser.execute_script(
                "return getComputedStyle(document.documentElement).scrollBehavior") == behaviour, motion
        # Following the audio under reduced motion: the page is at the cue at once, not on its way there.
        cue = browser.find_elements(By.CSS_SELECTOR, ".cue[data-start]")[2]
        _center(browser, cue)
        cue.find_element(By.CSS_SELECTOR, ".x").click()
        browser.execute_script("window.scrollTo({top: window.scrollY + 40, behavior: 'instant'})")
        _wait(browser, "return document.querySelectorAll('.cue')[3].getAttribute('aria-current') === 'true'")
        # Centred in the part of the window the sticky player leaves free (the page's scroll-padding-top).
        offset = browser.execute_script("""
            const box = document.querySelectorAll('.cue')[3].getBoundingClientRect();
            const padding = parseFloat(getComputedStyle(document.documentElement).scrollPaddingTop);
            return box.top + box.height / 2 - (padding + innerHeight) / 2;""")
        assert abs(offset) < 5, f"the current cue is {offset:.0f} px from where the page scrolls it to"
        browser.execute_script("document.querySelector('audio').pause()")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def _axe(browser) -> list[dict]:
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script("""
        const done = arguments[0];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
           .then(r => done({passes: r.passes.length,
                            violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                                                target: v.nodes[0].target}))}),
                 e => done({passes: 0, violations: [{id: 'axe failed: ' + e, impact: 'critical', nodes: 0}]}));""")
    assert result["passes"] >= 10, f"axe-core checked too little: {result}"
    return result["violations"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("which", ["shipped", "site"])
def test_axe_finds_no_serious_or_critical_violation(request: pytest.FixtureRequest, browser, which: str,
                                                    scheme: str) -> None:
    show = request.getfixturevalue(which)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                         "value": scheme}]})
    try:
        found = {}
        for url in show["pages"]:
            _open(browser, url)
            # The highlighted cue's colours are checked too.
            browser.execute_script("document.querySelectorAll('.cue')[2]?.setAttribute('aria-current', 'true')")
            violations = _axe(browser)
            print(f"\naxe-core on {url} ({which} show, {scheme}): {len(violations)} violations {violations}")
            found[url] = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert found == {url: [] for url in found}
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_screenshots_at_desktop_and_phone_widths(shipped: dict, browser) -> None:
    """The shipped show's index and first episode, for a person to look at (the episode also at a cue, and dark)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    index, episode = shipped["pages"][:2]
    shots = []

    def shot(name: str, url: str, width: int) -> None:
        _open(browser, url)
        time.sleep(0.2)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width, \
            f"{name} is wider than a {width} px screen"
        path = SCREENSHOTS / f"{name}.png"
        assert browser.save_screenshot(str(path))
        shots.append(path)

    try:
        for width, height, device in ((1280, 900, "desktop"), (390, 844, "phone")):
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": device == "phone"})
            shot(f"index-{device}", index, width)
            shot(f"episode-{device}", episode, width)
            shot(f"episode-{device}-at-a-cue", episode + "#t=60", width)
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                             "value": "dark"}]})
        shot("episode-phone-dark", episode + "#t=60", 390)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    print(f"\nscreenshots: {', '.join(str(p) for p in shots)}")
    assert all(p.stat().st_size > 5000 for p in shots)


@pytest.fixture(scope="module")
def scriptless() -> Iterator[object]:
    """A second browser, with JavaScript turned off by the content setting a user would change."""
    driver, profile = _driver(javascript=False)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.parametrize("which", ["site", "shipped"])
def test_the_pages_work_without_javascript(request: pytest.FixtureRequest, scriptless, which: str) -> None:
    show = request.getfixturevalue(which)
    driver = scriptless
    driver.get(show["base"])
    # The script would have shown the copy button: it did not run.
    assert not driver.find_element(By.CSS_SELECTOR, "button[data-copy]").is_displayed()
    links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, ".episodes h3 a")]
    assert sorted(links) == sorted(show["pages"][1:])
    for slug, record in show["record"].items():
        if f"{show['base']}episodes/{slug}.html" not in links:
            continue
        driver.get(f"{show['base']}episodes/{slug}.html")
        assert driver.find_element(By.TAG_NAME, "h1").text == record.title
        vtt = parse_webvtt((show["out"] / record.sidecars["vtt"]).read_text(encoding="utf-8"))
        # (WebDriver's own scripts still run with the page's JavaScript off; one round trip reads every cue.)
        texts, starts = driver.execute_script(
            "const cues = [...document.querySelectorAll('.cue[data-start]')];"
            "return [cues.map(c => c.querySelector('.x').innerText), cues.map(c => c.dataset.start)];")
        assert texts == [" ".join(text.split()) for *_, text in vtt], "the whole transcript is in the page"
        assert [float(start) for start in starts] == [round(start, 3) for start, *_ in vtt]
        assert driver.find_elements(By.CSS_SELECTOR, "button.copy") == [], "no copy buttons that would do nothing"
        audio = driver.find_element(By.CSS_SELECTOR, "audio[controls][preload=metadata]")
        assert audio.get_attribute("src") == f"{show['base']}{record.file}"
        track = driver.find_element(By.CSS_SELECTOR, "audio track[kind=captions]")
        assert track.get_attribute("src") == f"{show['base']}{record.sidecars['vtt']}"
        # Audio that loads without the script: its length is the episode's.
        _wait(driver, "return document.querySelector('audio').readyState >= 1")
        assert abs(driver.execute_script("return document.querySelector('audio').duration") - record.duration) < 0.2
