"""Email over SMTP with smtplib: plain, STARTTLS or implicit TLS, with login when a username is set.

The server's refusals (login refused, sender or recipients refused, message
refused), TLS problems, refused connections and timeouts come back as
``success: False`` with a sentence saying what to fix; the password never
appears in a result.
"""

from __future__ import annotations

import email.utils
import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import flowkit
from flowkit.errors import ParamsError, TaskFailed

Result = dict[str, Any]

SECURITY = ["starttls", "ssl", "none"]
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

CREDENTIALS = [
    flowkit.Param("host", required=True, help="The SMTP server, e.g. smtp.example.com."),
    flowkit.Param("port", kind="integer", help="Default: 587 for starttls, 465 for ssl, 25 for none."),
    flowkit.Param(
        "security",
        kind="choice",
        choices=SECURITY,
        default="starttls",
        help="starttls: upgrade a plain connection (port 587); ssl: TLS from the start (port 465); none: no TLS.",
    ),
    flowkit.Param("username", help="Login name; leave empty for a server without login."),
    flowkit.Param("password", kind="password", help="Login password (some providers want an app password)."),
    flowkit.Param("from_address", help="The default sender, e.g. Flowkit <bot@example.com>."),
    flowkit.Param("ca_file", help="A PEM file of CA certificates to trust: a private or self-signed server."),
    flowkit.Param("verify_tls", kind="boolean", default=True, help="Check the server's certificate."),
]
_TIMEOUT = flowkit.Param("timeout", kind="number", default=30, help="Seconds to wait for the server.")


@dataclass
class _Server:
    """Connection settings taken from the credentials, checked."""

    host: str
    port: int
    security: str
    username: str
    password: str
    context: ssl.SSLContext | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _settings(credentials: dict[str, Any]) -> _Server:
    host = str(credentials.get("host") or "").strip()
    if not host:
        raise TaskFailed("Set host: the SMTP server's name, e.g. smtp.example.com.")
    security = credentials.get("security") or "starttls"
    if security not in SECURITY:
        raise TaskFailed(f"security must be one of {', '.join(SECURITY)}; got {security!r}.")
    port = credentials.get("port") or DEFAULT_PORTS[security]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise TaskFailed(f"port must be a number from 1 to 65535; got {port!r}.")
    username, password = str(credentials.get("username") or ""), str(credentials.get("password") or "")
    if password and not username:
        raise TaskFailed("password is set without username: set both to log in, or neither.")
    if username and security == "none" and not _is_loopback(host):
        raise TaskFailed(f"security 'none' would send the password to {host} unencrypted: choose starttls or ssl.")
    context = None
    if security != "none":
        try:
            context = ssl.create_default_context(cafile=credentials.get("ca_file") or None)
        except (OSError, ssl.SSLError) as exc:
            where = credentials.get("ca_file")
            raise TaskFailed(f"ca_file {where!r} could not be read as PEM certificates: {exc}.") from exc
        if credentials.get("verify_tls") is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    return _Server(host, port, security, username, password, context)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(said.split())}"


def _explain(exc: BaseException, server: _Server, timeout: float) -> str:
    """A sentence for what went wrong while talking to the server."""
    if isinstance(exc, TaskFailed):
        return str(exc)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # smtplib reports a read that timed out or failed as a disconnection
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"{server.host} refused the login for {server.username!r} ({_reply(exc.smtp_code, exc.smtp_error)}): "
            "check username and password (some providers want an app password)."
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{who} ({_reply(*answer)})" for who, answer in exc.recipients.items())
        return f"{server.host} refused every recipient: {refused}."
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"{server.host} refused the sender {exc.sender!r} ({_reply(exc.smtp_code, exc.smtp_error)})."
    if isinstance(exc, smtplib.SMTPDataError):
        return f"{server.host} refused the message ({_reply(exc.smtp_code, exc.smtp_error)})."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return (
            f"{server.where} closed the connection ({exc or 'no reason given'}): check that security "
            f"{server.security!r} is what this port expects (ssl: 465, starttls: 587)."
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{server.host} answered {_reply(exc.smtp_code, exc.smtp_error)}."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"The TLS certificate of {server.host} could not be verified ({exc.verify_message}): set ca_file to the "
            "CA that signed it, or verify_tls to false for a test server."
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS with {server.where} failed ({exc.reason or exc}): check security (ssl speaks TLS from the first "
            "byte, port 465; starttls upgrades a plain connection, port 587)."
        )
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"{server.where} did not answer within {timeout:g} s (timed out)."
    if isinstance(exc, ConnectionRefusedError):
        return f"Could not connect to {server.where}: connection refused. Check host and port."
    if isinstance(exc, socket.gaierror):
        return f"Could not resolve {server.host}; check host and the network."
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP with {server.where} failed: {exc}"
    return f"Could not talk to {server.where}: {exc.__class__.__name__}: {exc}"


def _open(server: _Server, timeout: float) -> tuple[smtplib.SMTP, str]:
    """Connect, greet (EHLO) and switch on TLS as configured; a sentence on how it went."""
    client: smtplib.SMTP
    if server.security == "ssl":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=server.context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        client.ehlo()
        if server.security == "starttls":
            if not client.has_extn("starttls"):
                raise TaskFailed(f"{server.where} does not offer STARTTLS: choose security ssl or none.")
            client.starttls(context=server.context)
            client.ehlo()
    except BaseException:
        client.close()
        raise
    sock = client.sock
    tls = f", {sock.version()}" if isinstance(sock, ssl.SSLSocket) else ", no TLS"
    offers = client.esmtp_features.get("auth", "").strip()
    login = f"; login offered: {offers}" if offers else "; no login offered"
    return client, f"Connected to {server.where} ({server.security}{tls}){login}."


def _login(client: smtplib.SMTP, server: _Server) -> str:
    if not server.username:
        return "No username set: sending without login."
    if not client.has_extn("auth"):
        raise TaskFailed(
            f"{server.where} offers no login (AUTH) on this connection: check security, or clear username."
        )
    client.login(server.username, server.password)
    return f"Logged in as {server.username}."


def _addresses(value: Any, name: str) -> list[str]:
    """Addresses from "a@x, B <b@y>" text; refuses anything that is not one."""
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise ParamsError(f"email.send_email params: {name!r} must be text, addresses separated by commas.")
    found = []
    for display, address in email.utils.getaddresses([value]):
        if "@" not in address or any(ch.isspace() for ch in address):
            raise ParamsError(f"email.send_email params: {name!r} holds {display or address!r}, not an address.")
        found.append(address)
    return found


# -- tasks -----------------------------------------------------------------------
@flowkit.task(
    params=[flowkit.Param("timeout", kind="number", default=10, help="Seconds to wait for the server.")],
)
def test_connection(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Connect, EHLO, STARTTLS as configured, and log in; nothing is sent."""
    timeout = float(params["timeout"])
    report, server = flowkit.ConnectionReport(), None
    try:
        report.step("config")
        server = _settings(credentials)
        report.passed(f"Server {server.where}, security {server.security}.")
        report.step("request")
        client, how = _open(server, timeout)
        report.passed(how)
        try:
            report.step("auth")
            report.passed(_login(client, server))
        finally:
            client.close()
    except (TaskFailed, smtplib.SMTPException, OSError) as exc:
        report.failed(str(exc) if server is None else _explain(exc, server, timeout))
    return report.result()


@flowkit.task(
    params=[
        flowkit.Param(
            "to", required=True, help="Recipients, separated by commas: ann@example.com, Bob <bob@example.com>."
        ),
        flowkit.Param("subject", required=True, help="The subject line."),
        flowkit.Param("body", default="", help="The plain-text body."),
        flowkit.Param("html", help="An HTML body, sent alongside the plain text."),
        flowkit.Param("cc", help="Copy recipients, separated by commas."),
        flowkit.Param("bcc", help="Hidden recipients, separated by commas (they appear in no header)."),
        flowkit.Param("from_address", help="The sender; default: the credentials' from_address, else username."),
        flowkit.Param("reply_to", help="Where replies go."),
        _TIMEOUT,
    ],
)
def send_email(credentials: dict[str, Any], params: dict[str, Any]) -> Result:
    """Send an email (plain text, optionally with an HTML version) through the SMTP server.

    Returns ``message_id``, ``recipients`` and ``refused`` (recipients the server turned down while
    accepting others).
    """
    to, cc, bcc = (_addresses(params.get(name), name) for name in ("to", "cc", "bcc"))
    if not to:
        raise ParamsError("email.send_email params: 'to' names no address.")
    sender_text = params.get("from_address") or credentials.get("from_address") or credentials.get("username")
    senders = _addresses(sender_text, "from_address")
    if len(senders) != 1:
        raise TaskFailed("Set from_address (in the params or the credentials): one sender address.")
    server = _settings(credentials)
    message = EmailMessage()
    try:
        message["From"] = sender_text
        message["To"] = params["to"]
        if params.get("cc"):
            message["Cc"] = params["cc"]
        if params.get("reply_to"):
            message["Reply-To"] = params["reply_to"]
        message["Subject"] = params["subject"]
    except ValueError as exc:  # a header with a line break would let the text add headers of its own
        raise ParamsError(f"email.send_email params: {exc}") from exc
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=senders[0].rsplit("@", 1)[-1])
    message.set_content(params["body"])
    if params.get("html"):
        message.add_alternative(params["html"], subtype="html")
    recipients = to + cc + bcc
    timeout = float(params["timeout"])
    try:
        client, _ = _open(server, timeout)
        try:
            _login(client, server)
            refused = client.send_message(message, from_addr=senders[0], to_addrs=recipients)
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server has accepted the message; a rude goodbye changes nothing
        finally:
            client.close()
    except (smtplib.SMTPException, OSError) as exc:
        raise TaskFailed(_explain(exc, server, timeout)) from exc
    turned_down = {who: _reply(*answer) for who, answer in refused.items()}
    accepted = [who for who in recipients if who not in turned_down]
    note = f"; refused: {', '.join(turned_down)}" if turned_down else ""
    return {
        "success": True,
        "message": f"Sent {params['subject']!r} to {len(accepted)} recipient(s){note}.",
        "message_id": message["Message-ID"],
        "recipients": accepted,
        "refused": turned_down,
    }
