"""Lua scripting (EVAL, FUNCTION): see engine.py for the runtime and execution model."""
