"""The `mentorhub bench` commands, one module each, outside the feature packages they measure.

startup (start-up time to the first /healthz), booking, search, serving (the recommendation tier against
`mlflow models serve`), chat (+ chat_clients, the client processes), admin_mentors, planted (the pipeline and
the served endpoint on a planted-taste world); `recsys` lives in experiments.cli. `common` holds what they
share: a free port, the CPU time of a server's process tree, nearest-rank percentiles; `harness` the settings
of the services they (and the tests) use. api/cli.py attaches each command lazily by its import path, so
nothing here is imported by the web app.
"""
