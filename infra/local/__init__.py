"""The embedded local default: moto's server on loopback, provisioned from ``infra.definition``, with an API
gateway and a Lambda-like dispatcher that invoke the real handlers with real AWS event shapes."""
