using System.Globalization;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// Does what a block's marker says: run, compile or skip it; fails on a block with a language
/// and no marker. The placeholders the docs write for the bastion, its host key and the client's
/// key files are replaced by the loopback fixture's own before a block runs (table in docs/README.md).
/// </summary>
public sealed class SampleCheck(DocsSshd sshd, string repositoryRoot)
{
    /// <summary>How long a C# sample may run.</summary>
    public static readonly TimeSpan CSharpTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a Python or shell sample may run.</summary>
    public static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The text each runnable sample has replaced, and by what, in this order (docs/README.md
    /// lists the same): the longer forms first, so <c>tunnel@bastion-host:2222</c> keeps its port.
    /// </summary>
    public IReadOnlyList<(string Placeholder, string Value)> Placeholders =>
    [
        ("tunnel@bastion.example:22", $"{DocsSshd.UserName}@127.0.0.1:{sshd.Port.ToString(CultureInfo.InvariantCulture)}"),
        ("tunnel@bastion-host:2222", $"{DocsSshd.UserName}@127.0.0.1:{sshd.Port.ToString(CultureInfo.InvariantCulture)}"),
        ("tunnel@127.0.0.1:2222", $"{DocsSshd.UserName}@127.0.0.1:{sshd.Port.ToString(CultureInfo.InvariantCulture)}"),
        ("tunnel@bastion.example", $"{DocsSshd.UserName}@127.0.0.1"),
        ("tunnel@bastion-host", $"{DocsSshd.UserName}@127.0.0.1"),
        ("-p 2222", $"-p {sshd.Port.ToString(CultureInfo.InvariantCulture)}"),
        ("SHA256:nsfxU0bT/zhn88YlHc1InfpOGl29+e+mhZw+w8jwgfo", sshd.HostKeyFingerprint),
        ("/home/me/.ssh/id_ed25519", sshd.ClientKeyPath),
        ("/path/to/client_ed25519_key", sshd.ClientKeyPath),
        ("~/.zmqaspire/keys/client_ed25519_key", sshd.ClientKeyPath),
        ("/home/me/.ssh/known_hosts", sshd.ClientKnownHostsPath),
    ];

    /// <summary>Checks one block.</summary>
    /// <param name="block">The block.</param>
    /// <param name="sameFile">Every block of its file, for <c>after=</c>.</param>
    /// <returns>What was done, for the test output.</returns>
    /// <exception cref="Exception">Whatever made the block fail: unmarked, a compile error, what the sample threw, a non-zero exit.</exception>
    public string Check(CodeBlock block, IReadOnlyList<CodeBlock> sameFile)
    {
        var marker = block.Marker ?? throw new InvalidOperationException(
            $"{block.Name}: this ```{block.Language} block has no sample marker. Put one of these on the line before it " +
            "(docs/README.md, 'Code samples in the docs'): <!-- sample: run ... -->, <!-- sample: compile ... --> or <!-- sample: skip REASON -->.");
        if (marker.Action == SampleAction.Skip)
        {
            return $"skipped: {marker.Reason}";
        }

        var run = marker.Action == SampleAction.Run;
        if (block.Language == "csharp")
        {
            var parts = Chain(block, sameFile);
            using var peers = new PeerSet(run ? parts.SelectMany(p => p.Marker!.Peers) : []);
            var ports = run ? parts.SelectMany(p => p.Marker!.Ports).Distinct().ToDictionary(p => p, _ => LoopbackPort.Free()) : [];
            var sources = parts.Select(p => (run ? Substitute(p.Code, peers, ports) : p.Code, p.File, p.Line + 1)).ToArray();
            var program = CSharpSample.Compile(block.Name, sources);
            if (run)
            {
                CSharpSample.Run(program, CSharpTimeout);
            }

            return run ? "compiled and ran" : "compiled";
        }

        if (ScriptSample.Languages.Contains(block.Language))
        {
            if (marker.After is not null || marker.Id is not null)
            {
                throw new InvalidOperationException($"{block.Name}: id= and after= are for C# blocks; a {block.Language} block is run on its own.");
            }

            using var peers = new PeerSet(run ? marker.Peers : []);
            var ports = run ? marker.Ports.ToDictionary(p => p, _ => LoopbackPort.Free()) : [];
            var code = run ? Substitute(block.Code, peers, ports) : block.Code;
            ScriptSample.Run(block.Language, code, checkOnly: !run, repositoryRoot, sshd.Client, ScriptTimeout);
            return run ? "ran" : "syntax checked";
        }

        throw new InvalidOperationException(
            $"{block.Name}: a ```{block.Language} block cannot be run or compiled here (C#, Python and shell can); mark it <!-- sample: skip REASON --> or drop the language.");
    }

    /// <summary>The blocks named by <c>after=</c> (recursively, in order), then the block itself.</summary>
    private static List<CodeBlock> Chain(CodeBlock block, IReadOnlyList<CodeBlock> sameFile)
    {
        var chain = new List<CodeBlock> { block };
        for (var current = block; current.Marker?.After is { } after;)
        {
            var named = sameFile.Where(b => b.Marker?.Id == after && b.Language == "csharp").ToList();
            current = named.Count == 1
                ? named[0]
                : throw new InvalidOperationException($"{block.Name}: after={after}, but {named.Count} C# blocks of {block.File} have id={after} (one must).");
            if (chain.Contains(current))
            {
                throw new InvalidOperationException($"{block.Name}: after= goes round in a circle.");
            }

            chain.Insert(0, current);
        }

        return chain;
    }

    private string Substitute(string code, PeerSet peers, Dictionary<int, int> ports)
    {
        foreach (var (placeholder, value) in Placeholders)
        {
            code = code.Replace(placeholder, value, StringComparison.Ordinal);
        }

        foreach (var (address, replacement) in peers.Addresses)
        {
            code = code.Replace(address, replacement, StringComparison.Ordinal);
        }

        foreach (var (port, free) in ports)
        {
            code = code.Replace(string.Create(CultureInfo.InvariantCulture, $":{port}"), string.Create(CultureInfo.InvariantCulture, $":{free}"), StringComparison.Ordinal);
        }

        return code;
    }

    /// <summary>The peers of one sample, stopped together.</summary>
    private sealed class PeerSet(IEnumerable<PeerSpec> specs) : IDisposable
    {
        private readonly List<(string Address, Peer Peer)> _peers = [.. specs.DistinctBy(s => s.Address).Select(s => (s.Address, new Peer(s)))];

        public IEnumerable<(string Address, string Replacement)> Addresses => _peers.Select(p => (p.Address, p.Peer.Address));

        public void Dispose()
        {
            foreach (var (_, peer) in _peers)
            {
                peer.Dispose();
            }
        }
    }
}
