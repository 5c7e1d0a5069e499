"""Single sign-on from the console's sign-in page, in a real headless Chromium against a real OpenID Connect
provider (panva's oidc-provider, deploy/local/oidc-provider) and intake, dispatch and notify as processes on the
real Kafka and PostgreSQL: 统一身份认证登录, the provider's own form, and back in the console as the person.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from shared.settings import PROJECT_ROOT, LocalInfraSettings
from tests.e2e.console_stack import ConsoleStack, console_stack
from tests.oidc_fixtures import PROVIDER_DIR, OidcProvider, free_port

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
BASE_PORT = 18440
GRID = "610199004001001"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """The provider, sending browsers back to this module's intake (not the ASGI one of tests/oidc_fixtures.py)."""
    subprocess.run(["bash", str(PROJECT_ROOT / "deploy" / "local" / "install-oidc-provider.sh")], check=True)
    port = free_port()
    directory = tmp_path_factory.mktemp("console-oidc")
    found = OidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        client_id="griddispatch-console-tests",
        client_secret=secrets.token_urlsafe(24),
        accounts_file=directory / "accounts.json",
    )
    found.accounts_file.write_text("{}", encoding="utf-8")
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": found.client_id,
        "OIDC_CLIENT_SECRET": found.client_secret,
        "OIDC_REDIRECT_URIS": f"http://127.0.0.1:{BASE_PORT}/v1/auth/oidc/callback",
        "OIDC_ACCOUNTS_FILE": str(found.accounts_file),
    }
    log_path = directory / "provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{found.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OIDC provider did not answer within 30 s")
            time.sleep(0.1)
        yield found
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def stack(
    local_infra: LocalInfraSettings, provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    env = {
        "GRIDDISPATCH_OIDC_ISSUER": provider.issuer,
        "GRIDDISPATCH_OIDC_CLIENT_ID": provider.client_id,
        "GRIDDISPATCH_OIDC_CLIENT_SECRET": provider.client_secret,
        "GRIDDISPATCH_OIDC_REDIRECT_URI": f"http://127.0.0.1:{BASE_PORT}/v1/auth/oidc/callback",
    }
    with console_stack(tmp_path_factory.mktemp("console-sso"), BASE_PORT, extra_env=env) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "apt-get install chromium (deploy/local/install-system-deps.sh)"
    expect.set_options(timeout=30_000)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_single_sign_on_from_the_sign_in_page_lands_in_the_console_as_the_person(
    browser: Browser, stack: ConsoleStack, provider: OidcProvider
) -> None:
    login = f"sso{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(12)
    # The person exists (matched by username at the first sign-on); the provider's token brings the role.
    stack.add_person("郭雪", secrets.token_urlsafe(16), [], username=login)
    provider.put_account(login, password, sub=login, name="郭雪", griddispatch_roles=[f"grid_head@unit:{GRID}"])
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(stack.console_url)
        button = page.locator("#sso-sign-in")
        await expect(button).to_have_text("统一身份认证登录")
        await button.click()
        # The provider's own page: this is not the console any more.
        await expect(page.locator("input[name=login]")).to_be_visible()
        assert page.url.startswith(provider.issuer)
        await page.fill("input[name=login]", login)
        await page.fill("input[name=password]", password)
        await page.click("form[action$='/login'] button[type=submit]")

        await expect(page.locator("#who .who-name")).to_have_text("郭雪")
        await expect(page.locator("#who .who-roles")).to_contain_text("网格长 · 香米园社区第1网格")
        # The tokens came in the fragment and left at once (the history entry is replaced, not added to).
        assert "token" not in page.url
        assert "token" not in await page.evaluate("() => location.href")
        assert errors == []
    finally:
        await context.close()
