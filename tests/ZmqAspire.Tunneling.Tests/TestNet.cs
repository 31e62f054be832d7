using System.Globalization;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>Loopback port helpers.</summary>
internal static class TestNet
{
    /// <summary>A port that was free a moment ago: bound on 127.0.0.1:0, read back, released.</summary>
    public static int FreePort() => LoopbackPort.Free();

    /// <summary>The lines of <c>ss -ltn</c> whose local address has port <paramref name="port"/> (any address).</summary>
    public static IReadOnlyList<string> ListeningSockets(int port)
    {
        var output = ProcessRunner.RunChecked("/usr/bin/ss", ["-Hltn"]).StandardOutput;
        var suffix = string.Create(CultureInfo.InvariantCulture, $":{port}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 4 } fields && fields[3].EndsWith(suffix, StringComparison.Ordinal))];
    }

    /// <summary>The ports something listens on (<c>ss -ltn</c>, any address), from one snapshot.</summary>
    public static IReadOnlySet<int> ListeningPorts()
    {
        var output = ProcessRunner.RunChecked("/usr/bin/ss", ["-Hltn"]).StandardOutput;
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 4)
            .Select(fields => int.Parse(fields[3][(fields[3].LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))
            .ToHashSet();
    }
}
