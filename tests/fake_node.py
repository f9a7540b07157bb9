"""A node that misbehaves on purpose, for the runner's own tests.

    python tests/fake_node.py MODE

It is the spec node, except on an `apply_blocks` of exactly two blocks, where it
misbehaves as MODE says: `hang`, `crash`, `garbage` (a line that is not JSON),
`wrong_id` (an answer to another request), `error` (a definite error answer),
`wrong_root` (a wrong state root), `log` (writes to stderr, then answers right).
With MODE `no_init` it exits before answering anything.
"""

import json
import sys
import time

from conformance import spec_node

MISBEHAVE_ON_BLOCKS = 2


def misbehave(mode: str, request: dict) -> bool:
    """Act out `mode` for this request; True when the request is answered (or never will be)."""
    out = sys.stdout
    if mode == "hang":
        time.sleep(3600)
    if mode == "crash":
        print("fake node: crashing on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "garbage":
        out.write("this is not JSON\n")
    elif mode == "wrong_id":
        out.write(json.dumps({"type": "apply_blocks_ok", "in_reply_to": request["msg_id"] + 100}) + "\n")
    elif mode == "error":
        out.write(json.dumps({"type": "error", "in_reply_to": request["msg_id"], "code": 10, "definite": True,
                              "text": "apply_blocks is not supported"}) + "\n")
    else:
        return False
    out.flush()
    return True


def main() -> None:
    mode = sys.argv[1]
    if mode == "no_init":
        sys.exit(1)
    node = None
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("type") == "apply_blocks" and len(request["blocks"]) == MISBEHAVE_ON_BLOCKS:
            if misbehave(mode, request):
                continue
            if mode == "log":
                print("fake node: two blocks", file=sys.stderr, flush=True)
        node, body = spec_node.answer_body(node, request)
        if mode == "wrong_root" and request.get("type") == "apply_blocks" and len(request["blocks"]) == MISBEHAVE_ON_BLOCKS:
            body["state_roots"][-1] = "00" * 32
        answer = {"type": request["type"] + "_ok", "in_reply_to": request.get("msg_id"), **body}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if request.get("type") == "shutdown":
            return


if __name__ == "__main__":
    main()
