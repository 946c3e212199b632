"""The ngrok provider: one agent process per tunnel, driven through pyngrok (issue 4).

pyngrok keeps module-level state keyed by the agent's path, so each `NgrokTunnel` has its
own `PyngrokConfig` (its own config file) and `stop()` kills the agent it started. One
worker thread owns the lifecycle: fetch the agent if missing, start it, open the endpoint,
watch it, and after a failure try again with capped exponential backoff.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pyngrok import conf, installer, ngrok, process
from pyngrok.exception import PyngrokError, PyngrokNgrokError, PyngrokNgrokHTTPError, PyngrokNgrokURLError
from pyngrok.log import NgrokLog

from notewell.plugin_api.ngrok_agent import download_agent, find_agent
from notewell.plugin_api.tunnel import (
    AgentMissingError,
    AgentStartError,
    AuthtokenError,
    NgrokRefusedError,
    TunnelError,
    TunnelStatus,
    _Published,
)

logger = logging.getLogger(__name__)
# The agent's own log lines are not for the terminal: Notewell turns the ones that matter
# into TunnelStatus messages. They stay out of the root logger, whatever handler a library
# (the MCP SDK installs one) or the app put there.
_agent_log = logging.getLogger("pyngrok")
_agent_log.addHandler(logging.NullHandler())
_agent_log.propagate = False

ENDPOINT_NAME = "notewell"
# Retries end this long after the tunnel last worked (or first tried): a tunnel that can't
# connect for two minutes needs the person, not another attempt (issue 17).
GIVE_UP_AFTER = 120.0
_KEEPS_TRYING = re.compile(r"[;,]?\s*Notewell keeps trying\.?")
CONFIG_FILE = "ngrok.yml"

_BAD_TOKEN = (
    "ngrok rejected the authtoken. Copy your authtoken from dashboard.ngrok.com "
    "and paste it into Settings → Sharing."
)
_CODES: dict[str, tuple[type[TunnelError], str, bool]] = {
    "ERR_NGROK_105": (AuthtokenError, _BAD_TOKEN, False),
    "ERR_NGROK_107": (AuthtokenError, _BAD_TOKEN, False),
    "ERR_NGROK_4018": (
        AuthtokenError,
        "ngrok needs an authtoken. Sign up free at dashboard.ngrok.com, copy your authtoken "
        "and paste it into Settings → Sharing (or set NGROK_AUTHTOKEN).",
        False,
    ),
    "ERR_NGROK_108": (
        NgrokRefusedError,
        "Another ngrok agent is already online with your account (the free plan allows one). "
        "Stop it (see dashboard.ngrok.com/agents); Notewell keeps trying.",
        True,
    ),
    "ERR_NGROK_334": (
        NgrokRefusedError,
        "Your ngrok domain is already in use by another running agent. Stop that one; "
        "Notewell keeps trying.",
        True,
    ),
    "ERR_NGROK_120": (
        AgentStartError,
        "This ngrok agent is too old. Run `ngrok update`, or clear the ngrok path in "
        "Settings → Sharing to let Notewell download a current one.",
        False,
    ),
}
_CODES["ERR_NGROK_121"] = _CODES["ERR_NGROK_120"]


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * self.factor**attempt)


class NgrokTunnel(_Published):
    def __init__(
        self,
        *,
        authtoken: str | None = None,
        domain: str | None = None,
        region: str | None = None,
        ngrok_path: str | None = None,
        config_dir: Path | None = None,
        traffic_policy: dict | None = None,
        agent_home: Path | None = None,
        download_url: str | None = None,
        search_path: bool = True,
        startup_timeout: float = 15.0,
        download_timeout: float = 10.0,
        check_interval: float = 1.0,
        backoff: Backoff = Backoff(),
        give_up_after: float | None = None,  # None: GIVE_UP_AFTER
    ) -> None:
        super().__init__()
        self._authtoken = authtoken
        self._domain = _bare_domain(domain) if domain else None
        self._region = region
        self._ngrok_path = ngrok_path
        self._config_dir = Path(config_dir) if config_dir else None
        self._traffic_policy = traffic_policy
        self._agent_home = Path(agent_home) if agent_home else Path(installer.get_default_ngrok_dir())
        self._download_url = download_url
        self._search_path = search_path
        self._startup_timeout = startup_timeout
        self._download_timeout = download_timeout
        self._check_interval = check_interval
        self._backoff = backoff
        self._give_up_after = GIVE_UP_AFTER if give_up_after is None else give_up_after
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._port: int | None = None
        self._config: conf.PyngrokConfig | None = None
        self._live_url: str | None = None  # set while an endpoint is up, for the log watcher

    def start(self, local_port: int) -> None:
        with self._lock:
            if self._worker is not None and self._worker.is_alive() and self._port == local_port:
                return
        self.stop()
        with self._lock:
            self._port = local_port
            self._stopping = threading.Event()
            self._board.publish(TunnelStatus("connecting", message="Starting ngrok…"))
            self._worker = threading.Thread(
                target=self._run, args=(local_port, self._stopping), name="ngrok-tunnel", daemon=True
            )
            self._worker.start()

    def stop(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
            self._stopping.set()
            self._live_url = None
        if worker is not None:
            self._kill_agent()
            if worker is not threading.current_thread():
                worker.join(timeout=5)
            if not worker.is_alive() and self._config is not None:
                ngrok.kill(self._config)
        self._board.publish(TunnelStatus("off"))

    # -- the worker ---------------------------------------------------------------

    def _publish(self, stopping: threading.Event, status: TunnelStatus) -> None:
        with self._lock:  # a status from a stopped worker must not overwrite "off"
            if not stopping.is_set():
                self._board.publish(status)

    def _run(self, port: int, stopping: threading.Event) -> None:
        attempt = 0
        failing_since = time.monotonic()  # since the tunnel last worked, or first tried
        while not stopping.is_set():
            if attempt:
                self._publish(stopping, TunnelStatus("connecting", message="Reconnecting to ngrok…"))
            try:
                proc, url = self._open(port, stopping)
            except TunnelError as exc:
                self._close()
                if not exc.retry:
                    self._publish(stopping, TunnelStatus("error", message=str(exc)))
                    return
                delay = self._retry_delay(attempt, failing_since)
                if delay is None:
                    self._publish(stopping, TunnelStatus("error", message=self._gave_up(str(exc))))
                    return
                attempt += 1
                self._publish(stopping, TunnelStatus("error", message=f"{exc} Retrying in {delay:g} s.",
                                                     retrying=True))
                stopping.wait(delay)
                continue
            online_since = time.monotonic()
            with self._lock:
                self._live_url = url
            self._publish(stopping, TunnelStatus("online", url))
            code = self._watch(proc, stopping)
            with self._lock:
                self._live_url = None
            self._close()
            if stopping.is_set():
                return
            if time.monotonic() - online_since > self._backoff.maximum:
                attempt = 0  # it had been stable; a fresh failure starts the backoff over
            failing_since = time.monotonic()
            reason = f"The ngrok agent stopped unexpectedly (exit code {code})."
            delay = self._retry_delay(attempt, failing_since)
            if delay is None:
                self._publish(stopping, TunnelStatus("error", message=self._gave_up(reason)))
                return
            attempt += 1
            self._publish(
                stopping, TunnelStatus("error", message=f"{reason} Reconnecting in {delay:g} s.", retrying=True)
            )
            stopping.wait(delay)

    def _retry_delay(self, attempt: int, failing_since: float) -> float | None:
        """How long to wait before the next try; None once the retries have had their time."""
        left = self._give_up_after - (time.monotonic() - failing_since)
        if left <= 0:
            return None
        return min(self._backoff.delay(attempt), round(left, 1) or 0.1)

    def _gave_up(self, reason: str) -> str:
        """The stopped state's message: what went wrong last, then what to do."""
        reason = _KEEPS_TRYING.sub("", reason).strip()
        if not reason.endswith("."):
            reason += "."
        return (f"{reason} Notewell tried for {_duration(self._give_up_after)} and stopped. Check your internet "
                "connection and the ngrok settings (Settings → Sharing, or serve's --ngrok-* options), then "
                "start sharing again.")

    def _open(self, port: int, stopping: threading.Event) -> tuple[subprocess.Popen, str]:
        agent = find_agent(self._ngrok_path, search_path=self._search_path, home=self._agent_home)
        if agent is None:
            agent = self._agent_home / installer.get_ngrok_bin()
            self._publish(stopping, TunnelStatus("connecting", message="Downloading the ngrok agent…"))
            download_agent(
                agent,
                url=self._download_url or installer.get_ngrok_cdn_url("3"),
                timeout=self._download_timeout,
                progress=lambda text: self._publish(
                    stopping, TunnelStatus("connecting", message=f"Downloading the ngrok agent… {text}")
                ),
                cancelled=stopping.is_set,
            )
        self._config = config = self._pyngrok_config(str(agent))
        if stopping.is_set():
            raise AgentStartError("Stopped.", retry=False)
        # Trigger: pyngrok reads the agent's output with a blocking readline under its lock.
        # Why: an agent that prints nothing would hang that read past startup_timeout.
        # Outcome: kill it a little after the timeout, which ends the read.
        guard = threading.Timer(self._startup_timeout + 5, self._kill_agent)
        guard.daemon = True
        guard.start()
        try:
            endpoint = ngrok.connect(
                f"http://127.0.0.1:{port}",
                name=ENDPOINT_NAME,
                pyngrok_config=config,
                **self._endpoint_options(),
            )
            proc = ngrok.get_ngrok_process(config).proc
        except PyngrokError as exc:
            raise _translate(exc) from exc
        except OSError as exc:
            raise AgentMissingError(
                f"Could not run the ngrok agent at {agent}: {exc.strerror or exc}. "
                "Check the path in --ngrok-path / Settings → Sharing."
            ) from exc
        finally:
            guard.cancel()
        url = endpoint.public_url or ""
        if not url.startswith("https://"):
            raise AgentStartError(f"ngrok gave a non-HTTPS address ({url!r}); Notewell only shares over HTTPS.")
        return proc, url.rstrip("/")

    def _endpoint_options(self) -> dict:
        options: dict = {}
        if self._domain:
            options["url"] = f"https://{self._domain}"
        if self._traffic_policy:
            options["traffic_policy"] = self._traffic_policy
        return options

    def _watch(self, proc: subprocess.Popen, stopping: threading.Event) -> int | None:
        while not stopping.wait(self._check_interval):
            code = proc.poll()
            if code is not None:
                return code
        return None

    def _close(self) -> None:
        if self._config is not None:
            try:
                ngrok.kill(self._config)
            except (PyngrokError, OSError):
                logger.debug("ngrok agent was already gone", exc_info=True)

    def _kill_agent(self) -> None:
        """Kill our agent without pyngrok's lock, which a starting agent holds."""
        if self._config is None:
            return
        # pyngrok's process table is the only handle on an agent it is still starting.
        running = process._current_processes.get(self._config.ngrok_path)
        if running is not None and running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(timeout=5)

    def _on_log(self, log: NgrokLog) -> None:
        with self._lock:
            url, stopping = self._live_url, self._stopping
        if url is None or not log.msg:
            return
        if log.lvl in ("ERROR", "CRITICAL") and "session" in log.msg:
            self._publish(stopping, TunnelStatus("connecting", message="Lost the connection to ngrok; reconnecting…"))
        elif "client session established" in log.msg and self.status.state == "connecting":
            self._publish(stopping, TunnelStatus("online", url))

    # -- agent and config -----------------------------------------------------------

    def _pyngrok_config(self, agent: str) -> conf.PyngrokConfig:
        if self._config_dir is None:
            self._config_dir = Path(tempfile.mkdtemp(prefix="notewell-ngrok-"))
        self._config_dir.mkdir(parents=True, exist_ok=True)
        path = self._config_dir / CONFIG_FILE
        token = self._authtoken or _token_from_ngrok_config()
        # The agent's local inspector (its web address, 127.0.0.1:4040 by default) would keep
        # every request and response, keys and note text included, for anyone on this
        # machine to read; pyngrok still needs the agent API there, so only recording is off.
        agent_section: dict[str, object] = {"inspect_db_size": -1}
        if token:
            agent_section["authtoken"] = token
        # JSON is valid YAML; the file holds the authtoken, so it is private (0600).
        _write_private(path, json.dumps({"version": "3", "agent": agent_section}, indent=2) + "\n")
        config = conf.PyngrokConfig(
            ngrok_path=agent,
            config_path=str(path),
            region=self._region,
            log_event_callback=self._on_log,
            startup_timeout=self._startup_timeout,  # type: ignore[arg-type]  # pyngrok only compares it
        )
        config.auth_token = None  # it is in the config file; keep it out of the process list
        return config


def _translate(exc: PyngrokError) -> TunnelError:
    if isinstance(exc, PyngrokNgrokURLError):
        return AgentStartError(f"Could not talk to the ngrok agent ({exc.reason}). Notewell keeps trying.")
    if isinstance(exc, PyngrokNgrokHTTPError):
        detail = _api_error_detail(exc.body)
    elif isinstance(exc, PyngrokNgrokError):
        detail = exc.ngrok_error or ""
    else:
        detail = ""
    match = re.search(r"ERR_NGROK_\d+", detail)
    if match and match.group(0) in _CODES:
        kind, message, retry = _CODES[match.group(0)]
        return kind(message, retry=retry)
    if match:
        code = match.group(0)
        return NgrokRefusedError(
            f"ngrok refused: {_first_line(detail)} ({code}, see https://ngrok.com/docs/errors/{code.lower()})."
        )
    if detail:
        return AgentStartError(
            f"ngrok could not connect: {_first_line(detail)}. Check your internet connection; Notewell keeps trying."
        )
    return AgentStartError(f"The ngrok agent could not start ({_first_line(str(exc))}). Notewell keeps trying.")


def _api_error_detail(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    details = data.get("details") or {}
    return str(details.get("err") or data.get("msg") or body)


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


def _first_line(text: str) -> str:
    # ngrok's logfmt values carry escaped newlines ("\n") once parsed by pyngrok.
    for line in re.split(r"\\r|\\n|[\r\n]", text):
        line = line.strip()
        if line:
            return line.rstrip(".")
    return "no details"


def _token_from_ngrok_config() -> str | None:
    """The authtoken saved by `ngrok config add-authtoken`, for users who set ngrok up themselves."""
    path = Path(installer.get_default_ngrok_dir()) / CONFIG_FILE
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(config, dict):
        return None
    agent = config.get("agent") if isinstance(config.get("agent"), dict) else config
    token = agent.get("authtoken")
    return token if isinstance(token, str) and token else None


def _bare_domain(domain: str) -> str:
    text = domain.strip().rstrip("/")
    return text.split("://", 1)[1] if "://" in text else text


def _write_private(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
