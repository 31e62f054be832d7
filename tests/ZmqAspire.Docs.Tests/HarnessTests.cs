namespace ZmqAspire.Docs.Tests;

/// <summary>
/// The sample mechanism itself, on small Markdown texts: it must fail on an unmarked block, a
/// sample that throws or exits non-zero, a compile error and a malformed marker; otherwise the
/// docs tests could pass by checking nothing.
/// </summary>
[Collection(DocsCollection.Name)]
public sealed class HarnessTests(DocsSshd sshd)
{
    private const string Fence = "```";

    [Fact]
    public void An_unmarked_csharp_block_fails_and_says_how_to_mark_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Check($"Text.\n\n{Fence}csharp\nvar x = 1;\n{Fence}\n"));

        Assert.Contains("t.md:3", error.Message, StringComparison.Ordinal);
        Assert.Contains("<!-- sample: skip REASON -->", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_csharp_sample_that_throws_fails_with_its_exception()
    {
        var error = Assert.Throws<FormatException>(
            () => Check($"<!-- sample: run -->\n{Fence}csharp\nTcpEndpoint.ParseTarget(\"tcp://*:7000\");\n{Fence}\n"));

        Assert.Contains("'tcp://*:7000'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_csharp_sample_that_does_not_compile_fails_with_the_markdown_line()
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => Check($"# Title\n<!-- sample: compile -->\n{Fence}csharp\nvar a = 1;\nundefined.Call();\n{Fence}\n"));

        Assert.Contains("t.md(5,", error.Message, StringComparison.Ordinal);
        Assert.Contains("CS0103", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fragment_compiles_after_the_block_it_names_and_runs_against_a_peer()
    {
        var markdown = $$"""
            <!-- sample: run id=login -->
            {{Fence}}csharp
            var options = new SshTunnelOptions
            {
                Server = SshServerAddress.Parse("tunnel@bastion.example:22"),
                HostKey = HostKeyPolicy.Pinned("SHA256:nsfxU0bT/zhn88YlHc1InfpOGl29+e+mhZw+w8jwgfo"),
                PrivateKeyPath = "/home/me/.ssh/id_ed25519",
            };
            await using var session = await SshTunnelSession.ConnectAsync(options);
            {{Fence}}

            <!-- sample: run after=login peer=echo:9000/rep -->
            {{Fence}}csharp
            using var req = new RequestSocket();
            using var forward = req.ConnectThroughTunnel("tcp://echo:9000", session);
            req.SendFrame("Hello");
            if (req.ReceiveFrameString() != "World from 9000") throw new InvalidOperationException("wrong reply");
            {{Fence}}
            """;
        var blocks = CodeBlock.Parse("t.md", markdown);

        Assert.Equal("compiled and ran", new SampleCheck(sshd, DocsFiles.Root).Check(blocks[1], blocks));
    }

    [Theory]
    [InlineData("python", "import sys\nsys.exit(3)\n", "exited with 3")]
    [InlineData("bash", "echo about to fail\nfalse\n", "exited with 1")]
    public void A_script_sample_that_exits_non_zero_fails_with_its_output(string language, string code, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Check($"<!-- sample: run -->\n{Fence}{language}\n{code}{Fence}\n"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_python_sample_reaches_a_peer_through_pyzmqs_paramiko_tunnel()
    {
        // As the reader runs it: ~/.ssh/known_hosts and the key are all the preparation. (pyzmq's
        // OpenSSH mode is covered by SeedClientTests: docs/deploy.md says why not here.)
        var code = """
            import zmq, zmq.ssh
            socket = zmq.Context().socket(zmq.REQ)
            socket.RCVTIMEO = 20000
            zmq.ssh.tunnel_connection(socket, "tcp://server:5556", "tunnel@bastion-host:2222",
                                      keyfile="/path/to/client_ed25519_key", paramiko=True)
            socket.send(b"Hello")
            assert socket.recv() == b"World from 5556"
            """;

        Assert.Equal("ran", Check($"<!-- sample: run peer=server:5556/rep -->\n{Fence}python\n{code}\n{Fence}\n"));
    }

    [Fact]
    public void A_shell_sample_reaches_a_peer_through_ssh_L_with_the_placeholders_replaced()
    {
        // Written as a reader would type it; peer= and port= make it run on this machine's loopback.
        var code = """
            ssh -N -L 127.0.0.1:15556:server:5556 -p 2222 tunnel@bastion-host &
            trap 'kill $!' EXIT
            for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/15556) 2>/dev/null && break; sleep 0.1; done
            python3 -c 'import zmq; s = zmq.Context().socket(zmq.REQ); s.RCVTIMEO = 10000; s.connect("tcp://127.0.0.1:15556"); s.send(b"Hello"); assert s.recv() == b"World from 5556"'
            """;

        Assert.Equal("ran", Check($"<!-- sample: run peer=server:5556/rep port=15556 -->\n{Fence}bash\n{code}\n{Fence}\n"));
    }

    [Theory]
    [InlineData("<!-- sample: skip -->")]
    [InlineData("<!-- sample: skip it -->")]
    [InlineData("<!-- sample: execute -->")]
    [InlineData("<!-- sample: run peer=server:5556/dealer -->")]
    [InlineData("<!-- sample: run port=0 -->")]
    [InlineData("<!-- sample: run\n-->")]
    public void A_malformed_marker_is_a_format_error(string marker)
    {
        Assert.Throws<FormatException>(() => CodeBlock.Parse("t.md", $"{marker}\n{Fence}csharp\nvar x = 1;\n{Fence}\n"));
    }

    [Fact]
    public void A_block_indented_in_a_list_item_is_found_and_unindented()
    {
        var blocks = CodeBlock.Parse("t.md", $"- Step one:\n\n      <!-- sample: run -->\n      {Fence}python\n      if True:\n          print(1)\n      {Fence}\n");

        var block = Assert.Single(blocks);
        Assert.Equal("if True:\n    print(1)\n", block.Code);
        Assert.Equal("ran", new SampleCheck(sshd, DocsFiles.Root).Check(block, blocks));
    }

    [Fact]
    public void A_marker_that_marks_no_block_is_a_format_error()
    {
        Assert.Throws<FormatException>(() => CodeBlock.Parse("t.md", "<!-- sample: compile -->\nSome text.\n"));
        Assert.Throws<FormatException>(() => CodeBlock.Parse("t.md", "<!-- sample: compile -->\n"));
    }

    [Fact]
    public void A_block_in_another_language_can_only_be_skipped()
    {
        Assert.Throws<InvalidOperationException>(() => Check($"<!-- sample: run -->\n{Fence}yaml\na: 1\n{Fence}\n"));
        Assert.StartsWith("skipped", Check($"<!-- sample: skip a compose file fragment -->\n{Fence}yaml\na: 1\n{Fence}\n"), StringComparison.Ordinal);
    }

    private string Check(string markdown)
    {
        var blocks = CodeBlock.Parse("t.md", markdown);
        return new SampleCheck(sshd, DocsFiles.Root).Check(blocks.Single(), blocks);
    }
}
