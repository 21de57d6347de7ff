namespace StepDpo.Core;

/// <summary>Base of every error caused by input (manifest, data, options). The message is complete:
/// it names the file, line and key where there is one, and the CLI prints it without a stack trace.</summary>
public class StepDpoException(string message, Exception? inner = null) : Exception(message, inner);
