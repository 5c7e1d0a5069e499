"""E-mail through an SMTP relay: the rendered text as a UTF-8 plain-text message, one attempt per call.

Uses the standard library's smtplib in a worker thread (no extra package); every socket operation is bounded
by timeout_s. The Message-ID is derived from the event id and the delivery id, so a retried delivery carries
the same Message-ID and a mailbox or relay can recognise the duplicate.

| what happened                                   | result    |
| ----------------------------------------------- | --------- |
| the message was accepted (250 after DATA)       | DELIVERED |
| a 4xx reply (greeting, AUTH, MAIL, RCPT, DATA)  | RETRY     |
| a 5xx reply                                     | FAILED    |
| refused, reset or timed-out connection          | RETRY     |
| STARTTLS or AUTH not offered; unusable headers  | FAILED    |
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from services.notify.channels.base import Message, Outcome, Result

FALLBACK_DOMAIN = "griddispatch.invalid"  # RFC 2606: never a real host, when the sender has no usable domain
SUBJECT_FALLBACK_CHARS = 40

_ID_LEFT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")  # a dot-atom, safe inside <...@...>
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def message_id(event_id: str, delivery_id: int, sender: str) -> str:
    """<event.delivery@sender's domain>: the same on every attempt, unique per recipient."""
    left = event_id if _ID_LEFT.fullmatch(event_id) else hashlib.sha256(event_id.encode()).hexdigest()[:32]
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    domain = domain if at else ""
    return f"<{left}.{delivery_id}@{domain if _DOMAIN.fullmatch(domain) else FALLBACK_DOMAIN}>"


def classify_reply(code: int) -> Result:
    """4xx is transient (RETRY), 5xx permanent (FAILED); anything else is an odd server, tried again."""
    if 200 <= code < 300:
        return Result.DELIVERED
    if 500 <= code < 600:
        return Result.FAILED
    return Result.RETRY


class SmtpChannel:
    """Sends a message's text to its target e-mail address through one SMTP relay."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10,
        *,
        tls_context: ssl.SSLContext | None = None,  # default: the system's trust store, host name checked
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_s = timeout_s
        self._tls_context = tls_context

    async def send(self, message: Message) -> Outcome:
        """One attempt in a worker thread; every SMTP reply and socket error is classified, none raised."""
        started = time.perf_counter()
        try:
            mail = self.compose(message)
        except (ValueError, TypeError) as exc:  # e.g. a line break in the subject: no retry can mend it
            return Outcome(Result.FAILED, latency_ms=_ms_since(started), error=f"cannot compose: {exc}")
        outcome = await _attempt(self._deliver, mail, message.target)
        return Outcome(
            outcome.result, status_code=outcome.status_code, latency_ms=_ms_since(started), error=outcome.error
        )

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail: UTF-8 text, subject, a stable Message-ID, and marked as sent by a machine."""
        text = message.body.decode("utf-8", errors="replace")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.target
        mail["Subject"] = message.subject or _first_line(text)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id(message.event_id, message.delivery_id, self.sender)
        mail["X-Griddispatch-Event-Id"] = message.event_id
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies are not sent back to us
        mail.set_content(text, charset="utf-8")
        return mail

    def _deliver(self, mail: EmailMessage, to: str) -> int:
        """Blocking: connect, STARTTLS and log in when configured, send; the reply code of the accepted DATA."""
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.starttls:
                smtp.starttls(context=self._tls_context or ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail, from_addr=parseaddr(self.sender)[1] or self.sender, to_addrs=[to])
            return 250  # send_message raises unless DATA ended with 250
        finally:
            _quit_quietly(smtp)


async def _attempt(deliver: Callable[[EmailMessage, str], int], mail: EmailMessage, to: str) -> Outcome:
    """Run the blocking delivery in a thread and turn what it raises into an Outcome."""
    try:
        code: int = await asyncio.to_thread(deliver, mail, to)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        return _refused(code, reply)
    except smtplib.SMTPResponseException as exc:  # greeting, HELO, STARTTLS, AUTH, MAIL FROM or DATA refused
        return _refused(exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPNotSupportedError as exc:  # STARTTLS or AUTH asked of a server that offers neither
        return Outcome(Result.FAILED, error=f"not supported by the server: {exc}")
    except (smtplib.SMTPException, OSError) as exc:  # dropped, refused, timed out, TLS handshake failed
        return Outcome(Result.RETRY, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return Outcome(Result.DELIVERED, status_code=code)


def _refused(code: int, reply: bytes | str) -> Outcome:
    """An SMTP refusal with its code and the server's words."""
    words = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
    return Outcome(classify_reply(code), status_code=code, error=f"SMTP {code}: {words}")


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """Say QUIT; once the message is accepted, a server that answers QUIT badly or hangs up changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _first_line(text: str) -> str:
    """A subject from the text itself when none was rendered."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:SUBJECT_FALLBACK_CHARS]


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
