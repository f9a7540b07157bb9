"""The runner's side of the adapter protocol: one node process, its requests and
its answers, and what went wrong when it did not answer as the protocol says.

A `NodeProcess` is started from the command the user gave, speaks newline-delimited
JSON over its standard input and output, and keeps what it writes to standard error
so that each case's report carries its own slice of the log. A node that hangs,
exits, prints something that is not an answer or answers the wrong request raises
`NodeFailure` with a verdict; the runner kills that process by its id and starts a
fresh one for the next case.
"""

import json
import os
import queue
import select
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conformance.protocol import (
    ANSWER_TYPES,
    MAX_ANSWER_BYTES,
    PROTOCOL_VERSION,
    REQUEST_TIMEOUT_S,
    SHUTDOWN_TIMEOUT_S,
    START_TIMEOUT_S,
    RequestType,
)

LOG_POLL_S = 0.05
"""How often the log reader looks at a silent node's standard error, in seconds."""


class Verdict(StrEnum):
    """How one case ended."""

    PASS = "pass"
    FAIL = "fail"
    """The node answered, and the answer differs from the spec's."""
    ERROR = "error"
    """The node answered the request with an error."""
    TIMEOUT = "timeout"
    """The node did not answer in time."""
    CRASH = "crash"
    """The node's process exited."""
    PROTOCOL = "protocol"
    """The node printed something that is not an answer to the request."""


class NodeFailure(Exception):
    """The node did not answer a request as the protocol says."""

    def __init__(self, verdict: Verdict, text: str) -> None:
        super().__init__(text)
        self.verdict = verdict


class HandshakeError(Exception):
    """The node did not start or did not answer `init`: the run cannot go on (exit 2)."""


def command_words(command: str) -> list[str]:
    """The node's command, split as a POSIX shell splits it; a `HandshakeError` for one
    that is empty or does not parse."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise HandshakeError(f"--node {command!r}: {error}") from None
    if not words:
        raise HandshakeError("--node: the command is empty")
    return words


@dataclass
class NodeProcess:
    command: str
    process: subprocess.Popen[str]
    answers: "queue.Queue[str | None]"
    log: list[str] = field(default_factory=list)
    log_lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 1

    @classmethod
    def start(cls, command: str) -> "NodeProcess":
        try:
            process = subprocess.Popen(
                command_words(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace", bufsize=1, start_new_session=True,
            )
        except OSError as error:
            raise HandshakeError(f"cannot start {command!r}: {error}") from None
        node = cls(command, process, queue.Queue())
        threading.Thread(target=node.read_answers, daemon=True).start()
        threading.Thread(target=node.read_log, daemon=True).start()
        return node

    def read_answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def read_log(self) -> None:
        """Keep the node's standard error as it comes, so that a chatty node never
        blocks on a full pipe."""
        assert self.process.stderr is not None
        descriptor = self.process.stderr.fileno()
        os.set_blocking(descriptor, False)
        while self.drain_log():
            try:
                select.select([descriptor], [], [], LOG_POLL_S)
            except (OSError, ValueError):  # the runner closed the pipe: the node is gone
                return

    def drain_log(self) -> bool:
        """Append whatever the pipe holds now; False once the node closed it. Under the
        lock, so that `log_since` drains what the node wrote before its answer: a
        case's log slice then holds all of it, however the threads interleave."""
        assert self.process.stderr is not None
        with self.log_lock:
            while True:
                try:
                    chunk = os.read(self.process.stderr.fileno(), 65536)
                except BlockingIOError:
                    return True
                except (OSError, ValueError):
                    return False
                if not chunk:
                    return False
                self.log.append(chunk.decode("utf-8", errors="replace"))

    def log_since(self, mark: int) -> str:
        self.drain_log()
        return "".join(self.log[mark:])

    def request(self, body: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        """Send one request and wait for its answer (at most `timeout_s`, by default
        `REQUEST_TIMEOUT_S`); an `error` answer is returned as is."""
        kind, msg_id = self.send(body)
        return self.answer_to(kind, msg_id, REQUEST_TIMEOUT_S if timeout_s is None else timeout_s)

    def send(self, body: dict[str, Any]) -> tuple[RequestType, int]:
        """Write one request without waiting for its answer: what `answer_to` then waits for."""
        msg_id = self.next_id
        self.next_id += 1
        kind = RequestType(body["type"])
        line = json.dumps({**body, "msg_id": msg_id}, separators=(",", ":")) + "\n"
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(line)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise NodeFailure(Verdict.CRASH, f"the node exited (status {self.process.poll()}) before {kind}") from None
        return kind, msg_id

    def answer_to(self, kind: RequestType, msg_id: int, timeout_s: float) -> dict[str, Any]:
        """The answer to request `msg_id`. Answers to earlier requests, which the runner
        gave up waiting for when a case failed part way, are passed over."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                text = self.answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise NodeFailure(Verdict.TIMEOUT, f"no answer to {kind} within {timeout_s:g} s") from None
            if text is None:
                self.process.wait()
                raise NodeFailure(Verdict.CRASH, f"the node exited (status {self.process.returncode}) during {kind}")
            if not answers_an_earlier_request(text, msg_id):
                return parsed_answer(text, kind, msg_id)

    def stop(self) -> None:
        """Ask the node to shut down; kill its process group if it does not exit in time."""
        if self.process.poll() is None:
            try:
                self.request({"type": RequestType.SHUTDOWN}, SHUTDOWN_TIMEOUT_S)
                self.process.wait(SHUTDOWN_TIMEOUT_S)
            except (NodeFailure, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def answers_an_earlier_request(text: str, msg_id: int) -> bool:
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return False
    earlier = answer.get("in_reply_to") if isinstance(answer, dict) else None
    return isinstance(earlier, int) and not isinstance(earlier, bool) and earlier < msg_id


def parsed_answer(text: str, kind: RequestType, msg_id: int) -> dict[str, Any]:
    """The answer in `text`, if it is one to request `msg_id`; else a protocol failure."""
    if len(text) > MAX_ANSWER_BYTES:
        raise NodeFailure(Verdict.PROTOCOL, f"the answer to {kind} is over {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        raise NodeFailure(Verdict.PROTOCOL, f"the node printed a line that is not JSON: {text.strip()[:200]!r}") from None
    if not isinstance(answer, dict):
        raise NodeFailure(Verdict.PROTOCOL, f"the answer to {kind} is not a JSON object: {text.strip()[:200]!r}")
    if answer.get("in_reply_to") != msg_id:
        raise NodeFailure(Verdict.PROTOCOL, f"expected the answer to msg_id {msg_id}, got in_reply_to {answer.get('in_reply_to')!r}")
    if answer.get("type") == "error":
        return answer
    if answer.get("type") != ANSWER_TYPES[kind]:
        raise NodeFailure(Verdict.PROTOCOL, f"expected {ANSWER_TYPES[kind]}, got type {answer.get('type')!r}")
    return answer


def require_ok(answer: dict[str, Any], kind: str) -> dict[str, Any]:
    """The answer, if it is not an error; an error answer fails the case with its code and text."""
    if answer.get("type") == "error":
        definite = "definite" if answer.get("definite") else "indefinite"
        raise NodeFailure(Verdict.ERROR, f"{kind} answered error {answer.get('code')} ({definite}): {answer.get('text')}")
    return answer


class NodeSession:
    """The node process a run reuses across cases: started once, restarted only after
    a case left it in doubt (a timeout, a crash, garbage on its output)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.node: NodeProcess | None = None

    def handshake(self, init: dict[str, Any]) -> dict[str, Any]:
        """Start the node and check it answers `init`: a node that cannot is a bad
        invocation, not a failed case."""
        try:
            return self.init(init)
        except NodeFailure as failure:
            log = self.node.log_since(0) if self.node is not None else ""
            self.close()
            raise HandshakeError(f"{self.command!r} failed the handshake: {failure}\n{log[-2000:]}") from None

    def init(self, init: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        """(Re)initialise the node for the next case, starting a process if needed (and
        then waiting up to `START_TIMEOUT_S` for its answer)."""
        if self.node is None:
            self.node = NodeProcess.start(self.command)
            timeout_s = START_TIMEOUT_S if timeout_s is None else timeout_s
        request = {"type": RequestType.INIT, "protocol": PROTOCOL_VERSION, **init}
        return require_ok(self.node.request(request, timeout_s), "init")

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.receive(self.send(body))

    def send(self, body: dict[str, Any]) -> Any:
        """Write a request and return at once: a player keeps several nodes busy so,
        then collects each answer with `receive`."""
        assert self.node is not None, "init first"
        return self.node.send(body)

    def receive(self, pending: Any) -> dict[str, Any]:
        assert self.node is not None, "init first"
        kind, msg_id = pending
        return require_ok(self.node.answer_to(kind, msg_id, REQUEST_TIMEOUT_S), str(kind))

    def log_mark(self) -> int:
        if self.node is None:
            return 0
        self.node.drain_log()
        return len(self.node.log)

    def log_since(self, mark: int) -> str:
        return "" if self.node is None else self.node.log_since(mark)

    def discard(self) -> None:
        """Kill the process after a failure that leaves its state in doubt."""
        if self.node is not None:
            self.node.kill()
            self.node = None

    def close(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None


class InProcessSession:
    """The spec node without a process: the same requests and answers, answered by
    `conformance.spec_node` in this process. For generating expectations, for
    finding which cases kill a mutant, and for the schedules benchmark; the suite's
    verdict on a node build always goes through its process."""

    def __init__(self) -> None:
        self.state: Any = None

    def handshake(self, init: dict[str, Any]) -> dict[str, Any]:
        return self.init(init)

    def init(self, init: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        return self.request({"type": RequestType.INIT, "protocol": PROTOCOL_VERSION, **init})

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        from conformance.spec_node import RequestError, answer_body

        try:
            self.state, answer = answer_body(self.state, body)
        except RequestError as error:
            raise NodeFailure(Verdict.ERROR, f"{body['type']} answered error {int(error.code)}: {error}") from None
        return {"type": ANSWER_TYPES[RequestType(body["type"])], **answer}

    def send(self, body: dict[str, Any]) -> Any:
        """The answer, computed now; `receive` hands it over."""
        return self.request(body)

    def receive(self, pending: Any) -> dict[str, Any]:
        answer: dict[str, Any] = pending
        return answer

    def log_mark(self) -> int:
        return 0

    def log_since(self, mark: int) -> str:
        return ""

    def discard(self) -> None:
        self.state = None

    def close(self) -> None:
        self.state = None


Session = NodeSession | InProcessSession
"""What a runner plays a case through: a node's process, or the spec in this process."""
