"""The agent on a desk: its engine (calls, the gate, the recording's life), the wiring of the
running agent (app), its settings, the desk's checks (doctor), the machine-wide set-up IT runs,
and what it last read of the policy."""
