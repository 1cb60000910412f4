"""A provider built for ogx (it imports ogx_api), for the ogx real-server
cases, since no provider package for ogx is published yet: an
OpenAI-compatible inference adapter, ogx's own vLLM one under a type of its
own."""


async def get_adapter_impl(config, deps):
    from ogx.providers.remote.inference.vllm import get_adapter_impl as vllm_adapter

    return await vllm_adapter(config, deps)
