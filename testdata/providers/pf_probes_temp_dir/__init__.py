"""Fixture provider package: makes a temporary directory while being
imported and goes on when that fails, as filelock 3.32 does; the real server
serves it through llama-stack's own vLLM adapter, for the real-server case
temp_dir_probe_caught."""


async def get_adapter_impl(config, deps):
    from llama_stack.providers.remote.inference.vllm import get_adapter_impl as vllm_adapter

    return await vllm_adapter(config, deps)
