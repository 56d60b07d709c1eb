"""The demo world: realistic people, mentors and months of simulated learner behaviour.

`api.demo.world` generates it (the `mentorhub seed` command); `api.demo.catalogue` holds the
fixed vocabulary (topics, names, texts) it draws from.
"""
