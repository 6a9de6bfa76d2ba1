"""Benchmarks for the scheduler (issue 6). Everything here runs on the sim backend: a simulation."""
