"""Worlds on seeded random paths through the checker's model: deep worlds (executed
blocks, view changes) that a breadth-first prefix of the space does not reach."""

import random

from checker.config import CheckerConfig
from checker.model import Model, World


def walk(config: CheckerConfig, seed: int, walks: int = 20, length: int = 30, model: Model | None = None) -> list[World]:
    """Every world on `walks` seeded random paths, each up to `length` transitions
    long (through a model of its own by default)."""
    model = model if model is not None else Model(config)
    chooser = random.Random(seed)
    worlds: list[World] = []
    for _ in range(walks):
        world = model.initial()
        worlds.append(world)
        for _ in range(length):
            successors = [successor for _, successor in model.successors(world)]
            if not successors:
                break
            world = chooser.choice(successors)
            worlds.append(world)
    return worlds
