"""Runs when the interpreter starts, before the probe and its audit hook:
writes a file and connects, as the spawned child of pf_spawn_child does. Put
on PYTHONPATH, before testdata/providers, by the golden case
kernel/sitecustomize."""

from pf_spawn_child.child import write_and_connect

write_and_connect()
