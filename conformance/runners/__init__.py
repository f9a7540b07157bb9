"""The conformance suite's runners, one module each: `encoding`, `ledger`, `replica`
and `schedules`. Each generates its cases from the spec (`generate`) and plays one
case against a node (`run_case`); `conformance.suite` runs them."""
