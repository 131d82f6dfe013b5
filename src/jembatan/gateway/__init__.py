"""Service gateway: one agency calls another government's API through the two nodes,
speaking X-Road's REST message protocol (pr-rest) to the agencies' own systems."""
