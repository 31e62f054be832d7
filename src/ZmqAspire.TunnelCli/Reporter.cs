using System.Globalization;
using System.Text.Json.Nodes;

namespace ZmqAspire.TunnelCli;

/// <summary>
/// What zmq-tunnel prints: the open forwards (one line each, for scripts to read) and state
/// changes (one line each on stderr, for logs), as text or as JSON lines.
/// </summary>
/// <param name="json">Print JSON lines instead of text.</param>
/// <param name="forwardsToStderr">Print the forwards on stderr too (child mode: stdout belongs to the child).</param>
public sealed class Reporter(bool json, bool forwardsToStderr)
{
    private readonly Lock _gate = new();

    /// <summary>Prints one open forward.</summary>
    public void Forward(string local, string remote, string via)
    {
        var line = json
            ? new JsonObject { ["local"] = local, ["remote"] = remote, ["via"] = via }.ToJsonString()
            : $"{local} -> {remote} via {via}";
        Write(forwardsToStderr ? Console.Error : Console.Out, line);
    }

    /// <summary>Logs a state change (connected, disconnected, retrying, refused, stopped) on stderr.</summary>
    public void State(string state, string message)
    {
        var now = DateTimeOffset.UtcNow;
        var line = json
            ? new JsonObject { ["time"] = now.ToString("O", CultureInfo.InvariantCulture), ["state"] = state, ["message"] = message }.ToJsonString()
            : $"{now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)} zmq-tunnel: {state}: {message}";
        Write(Console.Error, line);
    }

    /// <summary>Prints why zmq-tunnel exits, on stderr.</summary>
    public void Error(string message, int exitCode) =>
        Write(Console.Error, json
            ? new JsonObject { ["error"] = message, ["exitCode"] = exitCode }.ToJsonString()
            : $"zmq-tunnel: {message} (exit {exitCode.ToString(CultureInfo.InvariantCulture)})");

    private void Write(TextWriter writer, string line)
    {
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }
}
