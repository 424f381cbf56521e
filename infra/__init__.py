"""The AWS CDK app that deploys waflens: ``python -m infra --out DIR`` synthesizes it offline.

Nothing at runtime imports this package; it imports ``ingest.environment`` (the variables the handlers
read), ``enrich.schema`` (the lake's columns) and the config file reader, so the stack cannot drift from
the code it deploys.
"""

import os

# jsii (the Node.js bridge under aws-cdk-lib) runs on Node 18 and 20 but prints an end-of-life banner on
# every start; set before any module of this package imports aws_cdk.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
