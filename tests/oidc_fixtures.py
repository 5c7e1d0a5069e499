"""The real OpenID Connect provider for single sign-on tests: panva's oidc-provider (deploy/local/oidc-provider),
started once per session by the tests that ask for `oidc_provider`, stopped at the end; and a browser that
signs in at it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.settings import PROJECT_ROOT

PROVIDER_DIR = PROJECT_ROOT / "deploy" / "local" / "oidc-provider"
INTAKE_BASE = "http://intake.test"  # where the tests' intake app answers (httpx's ASGI transport)
CALLBACK = f"{INTAKE_BASE}/v1/auth/oidc/callback"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    accounts_file: Path
    accounts: dict[str, Any] = field(default_factory=dict)

    def put_account(self, login: str, password: str, **claims: Any) -> None:
        """Adds or changes an account; the provider reads the file again at every sign-in."""
        self.accounts[login] = {"password": password, "claims": {"preferred_username": login, **claims}}
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.accounts), encoding="utf-8")
        tmp.replace(self.accounts_file)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    subprocess.run(["bash", str(PROJECT_ROOT / "deploy" / "local" / "install-oidc-provider.sh")], check=True)
    port = int(os.environ.get("GRIDDISPATCH_TEST_OIDC_PORT") or free_port())
    directory = tmp_path_factory.mktemp("oidc-provider")
    provider = OidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        client_id="griddispatch-tests",
        client_secret=secrets.token_urlsafe(24),
        accounts_file=directory / "accounts.json",
    )
    provider.accounts_file.write_text("{}", encoding="utf-8")
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_REDIRECT_URIS": CALLBACK,
        "OIDC_ACCOUNTS_FILE": str(provider.accounts_file),
    }
    log_path = directory / "provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                doc = httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2).json()
                if doc.get("issuer") == provider.issuer:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the OIDC provider did not answer within {START_TIMEOUT_S}s")
            time.sleep(0.1)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class SignInTrail:
    """The redirects of one sign-in: where it ended and the callback URL the provider sent the browser to."""

    final: httpx.Response
    callback_url: str | None


def _is_redirect(response: httpx.Response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers


async def follow(
    browser: httpx.AsyncClient, response: httpx.Response, *, stop_at_callback: bool = False
) -> SignInTrail:
    """Follows redirects like a browser; stops at a page (the provider's form), the console, or the callback."""
    callback_url = None
    for _ in range(20):
        if not _is_redirect(response):
            return SignInTrail(response, callback_url)
        target = str(response.url.join(response.headers["location"]))
        if target.startswith(CALLBACK):
            callback_url = target
            if stop_at_callback:
                return SignInTrail(response, callback_url)
        if target.startswith(f"{INTAKE_BASE}/console/"):
            return SignInTrail(response, callback_url)
        response = await browser.get(target)
    raise AssertionError("too many redirects")


async def sign_in(
    browser: httpx.AsyncClient, login: str, password: str, *, stop_at_callback: bool = False, cancel: bool = False
) -> SignInTrail:
    """What a person does: opens the console's single sign-on, fills in the provider's form, is sent back."""
    trail = await follow(browser, await browser.get(f"{INTAKE_BASE}/v1/auth/oidc/login"))
    form = trail.final
    assert form.status_code == 200, form.text
    assert '<form method="post"' in form.text
    action = "abort" if cancel else "login"
    posted = await browser.post(f"{form.url}/{action}", data={"login": login, "password": password})
    return await follow(browser, posted, stop_at_callback=stop_at_callback)
