"""The demo world: realistic people, mentors and months of simulated learner behaviour.

`api.demo.world` generates it (the `mentorhub seed` command: `generate_world`, `simulate`, `WorldSpec`);
its parts: `spec` (WorldSpec, World, constants, time helpers), `people` (admin, mentors, learners),
`activity` (searches, views, bookings and outcomes, reviews, payments, chat, events) and `writing`
(bulk inserts into the database). `api.demo.catalogue` holds the fixed vocabulary (topics, names,
texts) it draws from.
"""
