"""How looplab talks to language models: one protocol, several backends, usage and budgets."""
from ._base import (BudgetExceeded, Completion, Message, Model, ModelError, ModelUnavailable, Usage,
                    choice_probabilities, clean_text, complete_async, named_with_args, parse_model_args,
                    probabilities_blocking)
from ._budget import MAX_CHARS_PER_TOKEN, Budget, Meter, Reservation, within_reservation
from ._embed import Embedder, MiniLMEmbedder, OpenAIEmbedder
from ._openai import DEFAULT_SERVER_CONNECTIONS, OpenAIModel, Timeouts
from ._resolve import Backend, default_connections, gguf_file, load_embedder, load_model, probe_backends
from ._scripted import ScriptedModel
from ._weights import cache_root

__all__ = ["DEFAULT_SERVER_CONNECTIONS", "MAX_CHARS_PER_TOKEN", "Backend", "Budget", "BudgetExceeded", "Completion", "Embedder", "Message", "Meter", "MiniLMEmbedder", "Model",
           "ModelError", "ModelUnavailable", "OpenAIEmbedder", "OpenAIModel", "Reservation", "ScriptedModel", "Timeouts",
           "Usage", "cache_root", "choice_probabilities", "clean_text", "complete_async", "default_connections", "gguf_file", "load_embedder", "load_model",
           "named_with_args", "parse_model_args", "probabilities_blocking", "probe_backends", "within_reservation"]
