"""Developer tooling used by the Makefile and CI."""
