"""The embedded local default: moto's server on loopback, provisioned from ``infra.definition``, with an API
gateway and a Lambda-like dispatcher that invoke the real handlers with real AWS event shapes."""

# moto's default account, the one the local stack's resources live in. Here, not in ``lambda_runtime`` (which imports
# every service through ``infra.definition``): moto's SQS/EventBridge/S3 process needs it too (SES's feedback), and
# importing the whole product there cost ~76 MB of its memory for one constant.
ACCOUNT = "123456789012"
