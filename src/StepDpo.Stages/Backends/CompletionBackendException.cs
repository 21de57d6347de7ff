using StepDpo.Core;

namespace StepDpo.Stages.Backends;

/// <summary>The endpoint could not produce an answer: a non-retryable status (bad model name, bad key, bad
/// request) or every attempt failed. The message names the endpoint and the last failure.</summary>
public sealed class CompletionBackendException(string message, Exception? inner = null) : StepDpoException(message, inner);
