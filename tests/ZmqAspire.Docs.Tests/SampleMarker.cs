using System.Globalization;
using System.Text.RegularExpressions;

namespace ZmqAspire.Docs.Tests;

/// <summary>What the test does with a code block.</summary>
public enum SampleAction
{
    /// <summary>Compile (C#) or syntax-check (Python, shell), then run against the loopback fixture.</summary>
    Run,

    /// <summary>Compile (C#) or syntax-check (<c>python3 -m py_compile</c>, <c>bash -n</c>) only.</summary>
    Compile,

    /// <summary>Not run here; the marker gives the reason.</summary>
    Skip,
}

/// <summary>A loopback NetMQ peer a sample needs, standing in for a host behind the bastion.</summary>
/// <param name="Address">The <c>host:port</c> written in the sample (e.g. <c>server:5556</c>); replaced by the peer's loopback address.</param>
/// <param name="Kind">What the peer does: <c>rep</c>, <c>pub</c>, <c>pull</c>, <c>pair</c> or <c>router</c> (see <see cref="Peer"/>).</param>
public sealed record PeerSpec(string Address, string Kind);

/// <summary>
/// The marker comment before a code block (syntax in docs/README.md):
/// <c>&lt;!-- sample: run|compile [id=NAME] [after=NAME] [peer=HOST:PORT/KIND]... [port=N]... --&gt;</c>
/// or <c>&lt;!-- sample: skip REASON --&gt;</c>.
/// </summary>
public sealed record SampleMarker(
    SampleAction Action, string? Reason, string? Id, string? After, IReadOnlyList<PeerSpec> Peers, IReadOnlyList<int> Ports)
{
    /// <summary>How every marker starts.</summary>
    public const string Prefix = "<!-- sample:";

    private static readonly string[] PeerKinds = ["rep", "pub", "pull", "pair", "router"];
    private static readonly Regex Shape = new(@"^<!-- sample:\s*(?<action>\S+)\s*(?<rest>.*?)\s*-->$", RegexOptions.CultureInvariant);

    /// <summary>Parses one marker line.</summary>
    /// <param name="text">The whole comment, <c>&lt;!-- sample: ... --&gt;</c> on one line.</param>
    /// <param name="where">Where it was found, for the error message.</param>
    /// <exception cref="FormatException">Unknown action or option, a skip without a reason, a bad peer or port.</exception>
    public static SampleMarker Parse(string text, string where)
    {
        var match = Shape.Match(text);
        if (!match.Success)
        {
            throw new FormatException($"{where}: a sample marker is one line, '<!-- sample: run|compile|skip ... -->': '{text}'.");
        }

        var rest = match.Groups["rest"].Value;
        switch (match.Groups["action"].Value)
        {
            case "skip":
                // The reason is for the next reader: why this block cannot run here, in words.
                return rest.Length >= 10
                    ? new SampleMarker(SampleAction.Skip, rest, null, null, [], [])
                    : throw new FormatException($"{where}: 'sample: skip' needs a reason (e.g. 'sample: skip starts the whole AppHost'): '{text}'.");
            case "run":
                return Options(SampleAction.Run, rest, where);
            case "compile":
                return Options(SampleAction.Compile, rest, where);
            default:
                throw new FormatException($"{where}: unknown sample action '{match.Groups["action"].Value}'; use run, compile or skip.");
        }
    }

    private static SampleMarker Options(SampleAction action, string rest, string where)
    {
        string? id = null, after = null;
        var peers = new List<PeerSpec>();
        var ports = new List<int>();
        foreach (var option in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = option.IndexOf('=', StringComparison.Ordinal) is > 0 and var eq ? (option[..eq], option[(eq + 1)..]) : (option, string.Empty);
            switch (key)
            {
                case "id" when value.Length > 0:
                    id = value;
                    break;
                case "after" when value.Length > 0:
                    after = value;
                    break;
                case "peer" when value.Split('/') is [var address, var kind] && address.Contains(':', StringComparison.Ordinal) && PeerKinds.Contains(kind):
                    peers.Add(new PeerSpec(address, kind));
                    break;
                case "port" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536:
                    ports.Add(port);
                    break;
                default:
                    throw new FormatException(
                        $"{where}: unknown or malformed sample option '{option}'; options are id=NAME, after=NAME, peer=HOST:PORT/KIND (KIND: {string.Join(", ", PeerKinds)}) and port=N.");
            }
        }

        return new SampleMarker(action, null, id, after, peers, ports);
    }
}
