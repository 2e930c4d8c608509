"""The GraphQL API (FastAPI + strawberry) serving ../shared/contract/minimum.graphql."""
