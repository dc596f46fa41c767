# The two set-up commands of the README. Each installs what it needs (idempotently) first.
.PHONY: demo test lint setup setup-test

demo: setup
	.venv/bin/mpphub demo

test: setup-test
	bash ops/scripts/test.sh

lint: setup-test
	.venv/bin/ruff check .

setup:
	bash ops/scripts/setup.sh

setup-test:
	bash ops/scripts/setup.sh --test
