using System.CommandLine;
using ZmqAspire.TunnelCli;

// The words after the first "--" are the child command, kept away from the parser so that its
// own options (python3 -u, say) are never read as ours.
var split = Array.IndexOf(args, "--");
var ours = split < 0 ? args : args[..split];
IReadOnlyList<string> child = split < 0 ? [] : args[(split + 1)..];
if (split >= 0 && child.Count == 0)
{
    return Usage("nothing follows '--': give the command to run.");
}

var commandLine = new CommandLine(async settings => await new TunnelRunner(settings).RunAsync().ConfigureAwait(false), child);
var parse = commandLine.Root.Parse(ours);
if (parse.Errors.Count > 0)
{
    return Usage(string.Join(Environment.NewLine, parse.Errors.Select(e => e.Message)));
}

try
{
    // Our own SIGINT/SIGTERM handling (TunnelRunner) closes everything; System.CommandLine's would only cancel a token.
    return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (UsageException ex)
{
    return Usage(ex.Message);
}
catch (Exception ex)
{
    // A bug, not a refusal: say so, with the stack for the report.
    Console.Error.WriteLine($"zmq-tunnel: internal error, please report it: {ex}");
    return ExitCodes.Software;
}

static int Usage(string message)
{
    Console.Error.WriteLine($"zmq-tunnel: {message}");
    Console.Error.WriteLine("Try 'zmq-tunnel --help'.");
    return ExitCodes.Usage;
}
