"""python -m reference.node CONFIG: run one replica (as `fedspec node run CONFIG`)."""

import asyncio
import sys
from pathlib import Path

from reference.node.config import ConfigError, load_config
from reference.node.runtime import NodeError, run_node


def main(arguments: list[str]) -> int:
    if len(arguments) != 1:
        print("usage: python -m reference.node CONFIG", file=sys.stderr)
        return 2
    try:
        asyncio.run(run_node(load_config(Path(arguments[0]))))
    except (ConfigError, NodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a port in use, a data dir not writable
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
