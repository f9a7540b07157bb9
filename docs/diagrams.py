"""Diagrams for the site, drawn as SVG from the source at build time.

No JavaScript, no CDN and no network: each diagram is an inline `<svg>` element
written here from data the project already has, so it renders offline and cannot
drift from what it shows:

* message sequence diagrams from the model checker's trace JSON (`fedspec-trace`);
* state diagrams of a transfer and of a task from `spec.wire.records`'
  `TRANSFER_TRANSITIONS` and `TASK_TRANSITIONS`;
* a picture of the project's parts and how data flows between them (`PARTS`, `FLOWS`).

Every figure is a pure function of its input, with integer coordinates, so two
builds write the same bytes.
"""

from dataclasses import dataclass
from html import escape
from typing import Any

from spec.wire.records import StatusChange

FONT = 'font-family="ui-monospace, SFMono-Regular, Menlo, monospace" font-size="12"'
INK = "#37474f"
FAULT_INK = "#c62828"
ARROW_HEAD = (
    '<defs><marker id="{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
    'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{ink}"/></marker></defs>'
)


def svg(width: int, height: int, title: str, body: list[str]) -> str:
    """A whole SVG element, sized to its content, with a title for screen readers."""
    return (
        f'<svg class="fedspec-diagram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def text(x: int, y: int, words: str, anchor: str = "middle", ink: str = INK, weight: str = "normal") -> str:
    return (
        f'<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{ink}" font-weight="{weight}" {FONT}>'
        f"{escape(words)}</text>"
    )


# --- message sequence diagrams ---------------------------------------------------------------------------
LANE_WIDTH = 170
"""Pixels between two replicas' lifelines: room for one message label."""
ROW_HEIGHT = 30
HEADER_HEIGHT = 44


@dataclass(frozen=True)
class Event:
    """One row of a sequence diagram: a message from one lane to another, or a note on a lane."""

    source: int
    target: int | None
    """None: a note on the source lane (a timer, a crash, a message put on the network)."""
    label: str
    fault: bool = False


def message_label(message: dict[str, Any]) -> str:
    """`PREPARE v1 h2`: the kind, then the view and height when the message has them."""
    parts = [str(message.get("type", "?")).replace("_", "-")]
    view = message.get("view", message.get("new_view"))
    if isinstance(view, int):
        parts.append(f"v{view}")
    height = message.get("height")
    if isinstance(height, int):
        parts.append(f"h{height}")
    return " ".join(parts)


def step_events(step: dict[str, Any], faulty: set[int]) -> list[Event]:
    """The rows one trace step draws: each delivered message an arrow from its sender."""
    replica = int(step["replica"])
    kind = step["kind"]
    if kind == "crash":
        return [Event(replica, None, "crashes: stops for good", fault=True)]
    if kind == "byzantine":
        return [Event(replica, None, f"sends {message_label(step['sends'])} (faulty)", fault=True)]
    events: list[Event] = []
    for entry in step["inputs"]:
        message = entry["input"]
        if message.get("type") == "TIMER":
            events.append(Event(replica, None, f"{message.get('timer', '')} timer fires"))
        elif isinstance(message.get("sender"), int) and message["sender"] != replica:
            sender = int(message["sender"])
            events.append(Event(sender, replica, message_label(message), fault=sender in faulty))
        else:
            events.append(Event(replica, None, f"takes {message_label(message)}"))
    return events


def trace_sequence(trace: dict[str, Any]) -> str:
    """The sequence diagram of a checker trace: one lifeline per replica, one row per input."""
    names = [str(name) for name in trace["config"]["replicas"]]
    faulty = {int(replica) for replica in trace["config"].get("faulty", [])}
    events: list[Event] = []
    for step in trace["steps"]:
        events.extend(step_events(step, faulty))
    title = f"Message sequence of {trace['config']['name']}: {trace.get('detail') or trace.get('property', '')}"
    return sequence_svg(names, faulty, events, title)


def lane_x(lane: int) -> int:
    return LANE_WIDTH // 2 + lane * LANE_WIDTH


def sequence_svg(names: list[str], faulty: set[int], events: list[Event], title: str) -> str:
    width = LANE_WIDTH * len(names)
    height = HEADER_HEIGHT + ROW_HEIGHT * (len(events) + 1)
    body = [ARROW_HEAD.format(id="sequence-arrow", ink=INK), ARROW_HEAD.format(id="sequence-fault", ink=FAULT_INK)]
    for lane, name in enumerate(names):
        x = lane_x(lane)
        ink = FAULT_INK if lane in faulty else INK
        label = f"{name} (faulty)" if lane in faulty else name
        body.append(text(x, 20, label, ink=ink, weight="bold"))
        body.append(f'<line x1="{x}" y1="30" x2="{x}" y2="{height - 8}" stroke="{ink}" stroke-dasharray="4 4"/>')
    for row, event in enumerate(events, start=1):
        body.extend(event_shapes(event, HEADER_HEIGHT + row * ROW_HEIGHT - ROW_HEIGHT // 2))
    return svg(width, height, title, body)


def event_shapes(event: Event, y: int) -> list[str]:
    ink = FAULT_INK if event.fault else INK
    source = lane_x(event.source)
    if event.target is None:
        return [
            f'<circle cx="{source}" cy="{y}" r="4" fill="{ink}"/>',
            text(source + 8, y + 4, event.label, anchor="start", ink=ink),
        ]
    target = lane_x(event.target)
    marker = "sequence-fault" if event.fault else "sequence-arrow"
    middle = (source + target) // 2
    return [
        f'<line x1="{source}" y1="{y}" x2="{target}" y2="{y}" stroke="{ink}" marker-end="url(#{marker})"/>',
        text(middle, y - 5, event.label, ink=ink),
    ]


# --- state diagrams ----------------------------------------------------------------------------------------
NODE_WIDTH = 130
NODE_HEIGHT = 34
STATE_ROW = 90
EDGE_LABEL_WIDTH = 420
"""Pixels between the first status and the final ones: room for the edge labels."""


def final_statuses(transitions: tuple[StatusChange, ...]) -> list[str]:
    finals: list[str] = []
    for transition in transitions:
        if transition.after not in finals:
            finals.append(transition.after)
    return finals


def state_diagram(transitions: tuple[StatusChange, ...], title: str) -> str:
    """The first status on the left, each final status on the right, one labelled
    arrow per way to reach it (`cause`: `when`)."""
    start = transitions[0].before
    finals = final_statuses(transitions)
    height = STATE_ROW * len(finals) + 20
    right = 20 + NODE_WIDTH + EDGE_LABEL_WIDTH
    width = right + NODE_WIDTH + 20
    start_y = height // 2
    body = [ARROW_HEAD.format(id="state-arrow", ink=INK)]
    body.extend(node(20, start_y, start))
    for index, status in enumerate(finals):
        y = STATE_ROW * index + STATE_ROW // 2 + 10
        body.extend(node(right, y, status))
        ways = [transition for transition in transitions if transition.after == status]
        body.append(
            f'<line x1="{20 + NODE_WIDTH}" y1="{start_y}" x2="{right}" y2="{y}" stroke="{INK}" '
            'marker-end="url(#state-arrow)"/>'
        )
        for line, way in enumerate(ways):
            label_y = y - 8 - 14 * (len(ways) - 1 - line)
            body.append(text(right - 8, label_y, f"{way.cause}: {way.when}", anchor="end"))
    return svg(width, height, title, body)


def node(x: int, y: int, status: str) -> list[str]:
    return [
        f'<rect x="{x}" y="{y - NODE_HEIGHT // 2}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" '
        f'fill="#eceff1" stroke="{INK}"/>',
        text(x + NODE_WIDTH // 2, y + 4, status, weight="bold"),
    ]


# --- the parts of the project ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    name: str
    what: str
    column: int
    row: int


PARTS: tuple[Part, ...] = (
    Part("spec/wire", "types, canonical bytes, signatures, state root", 0, 1),
    Part("spec", "ledger and PBFT step functions, invariants", 1, 0),
    Part("checker", "model checker and z3 proofs", 2, 0),
    Part("conformance", "vectors, adapter protocol, runner", 1, 2),
    Part("reference", "the reference node", 2, 2),
    Part("docs", "this site", 3, 1),
)
"""The boxes of the parts picture, placed on a grid (column, row)."""

FLOWS: tuple[tuple[str, str, str], ...] = (
    ("spec/wire", "spec", "wire types"),
    ("spec/wire", "reference", "shared, without the logic"),
    ("spec", "checker", "step functions"),
    ("spec", "conformance", "generates vectors"),
    ("conformance", "reference", "tests it"),
    ("checker", "docs", "traces, proofs"),
    ("spec", "docs", "rules, tables"),
)
"""The arrows of the parts picture: (from, to, what flows)."""

PART_WIDTH = 200
PART_HEIGHT = 52
COLUMN_STEP = 270
ROW_STEP = 110


def part_box(part: Part) -> tuple[int, int]:
    """The top-left corner of a part's box."""
    return 20 + part.column * COLUMN_STEP, 20 + part.row * ROW_STEP


def parts_picture() -> str:
    by_name = {part.name: part for part in PARTS}
    width = 40 + max(part.column for part in PARTS) * COLUMN_STEP + PART_WIDTH
    height = 40 + max(part.row for part in PARTS) * ROW_STEP + PART_HEIGHT
    body = [ARROW_HEAD.format(id="parts-arrow", ink=INK)]
    for source, target, what in FLOWS:
        body.extend(flow_arrow(by_name[source], by_name[target], what))
    for part in PARTS:
        x, y = part_box(part)
        body.append(
            f'<rect x="{x}" y="{y}" width="{PART_WIDTH}" height="{PART_HEIGHT}" rx="8" fill="#e3f2fd" stroke="{INK}"/>'
        )
        body.append(text(x + PART_WIDTH // 2, y + 20, part.name, weight="bold"))
        body.append(text(x + PART_WIDTH // 2, y + 38, part.what))
    return svg(width, height, "The parts of fedspec and how data flows between them", body)


def flow_arrow(source: Part, target: Part, what: str) -> list[str]:
    source_x, source_y = part_box(source)
    target_x, target_y = part_box(target)
    start = (source_x + PART_WIDTH // 2, source_y + PART_HEIGHT // 2)
    end = (target_x + PART_WIDTH // 2, target_y + PART_HEIGHT // 2)
    end = edge_point(end, start)
    start = edge_point(start, end)
    middle = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
    return [
        f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" stroke="{INK}" '
        'marker-end="url(#parts-arrow)"/>',
        f'<text x="{middle[0]}" y="{middle[1] - 4}" text-anchor="middle" fill="{INK}" {FONT} '
        f'font-style="italic">{escape(what)}</text>',
    ]


def edge_point(centre: tuple[int, int], toward: tuple[int, int]) -> tuple[int, int]:
    """Where the line from a box's centre toward `toward` leaves the box."""
    dx, dy = toward[0] - centre[0], toward[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    half_width, half_height = PART_WIDTH // 2, PART_HEIGHT // 2
    if abs(dx) * half_height > abs(dy) * half_width:
        scale = half_width / abs(dx)
    else:
        scale = half_height / abs(dy)
    return centre[0] + round(dx * scale), centre[1] + round(dy * scale)
