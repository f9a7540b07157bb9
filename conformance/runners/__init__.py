"""The conformance suite's runners, one module each: `encoding`, `ledger`, `replica`
and `schedules`. Each generates its cases from the spec (`generate`) and plays one
case against a node (`run_case`); `conformance.suite` runs them."""

from conformance.runners import encoding, ledger, replica, schedules
from conformance.suite import Runner

RUNNERS: dict[str, Runner] = {module.NAME: module for module in (encoding, ledger, replica, schedules)}
"""Runner name -> its module, in the order a run plays them."""
