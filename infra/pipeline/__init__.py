"""One construct per deployable unit; the stack in ``infra.stack`` wires them together."""
