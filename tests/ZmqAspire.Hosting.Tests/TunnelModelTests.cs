namespace ZmqAspire.Hosting.Tests;

/// <summary>WithSshTunnel: what the bastion allows (PermitOpen) and what the consumer is handed.</summary>
public sealed class TunnelModelTests
{
    [Fact]
    public async Task Project_consumer_gets_the_connection_string_of_the_contract()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        var worker = model.Builder.AddExecutable("worker", "true", ".");
        worker.WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);

        var env = await ModelBuilder.EnvironmentAsync(worker.Resource);

        var keys = SshKeyMaterial.EnsureCreated(model.KeyDirectory);
        Assert.Equal(
            $"SshServer=tunnel@localhost:2222;HostKeyFingerprint={keys.HostKeyFingerprint};RemoteEndpoint=tcp://server:5556;PrivateKeyPath={keys.ClientPrivateKeyPath}",
            env["ConnectionStrings__server"]);
        var parsed = ModelBuilder.Parse(env["ConnectionStrings__server"]);
        Assert.Equal(["sshserver", "hostkeyfingerprint", "remoteendpoint", "privatekeypath"], parsed.Keys.Cast<string>().Select(k => k.ToLowerInvariant()));
        // The path is the client's private key: ssh-keygen derives from it the public key the bastion authorizes.
        Assert.Equal(PublicKeyBody(keys.ClientPublicKey), PublicKeyBody(PublicKeyOf((string)parsed["PrivateKeyPath"])));
    }

    /// <summary>The public key OpenSSH derives from a private key file (<c>ssh-keygen -y</c>).</summary>
    private static string PublicKeyOf(string privateKeyPath)
    {
        var info = new System.Diagnostics.ProcessStartInfo("/usr/bin/ssh-keygen", ["-y", "-f", privateKeyPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        using var process = System.Diagnostics.Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"ssh-keygen -y -f {privateKeyPath}: {error}");
        return output;
    }

    /// <summary>"type base64" of a public key line, without its comment.</summary>
    private static string PublicKeyBody(string line) => string.Join(' ', line.Trim().Split(' ').Take(2));

    [Fact]
    public async Task Replicas_share_one_connection_name_in_order_and_each_is_permitted()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var replicas = new[] { "server-2", "server-1" }.Select(n => model.Builder.AddContainer(n, "debian", "bookworm-slim")).ToList();
        var worker = model.Builder.AddExecutable("worker", "true", ".");
        worker.WithSshTunnel(bastion, [.. replicas.Select(r => SshForwardTarget.FromContainerPort(r.Resource, 5556))], "server");
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);

        var env = await ModelBuilder.EnvironmentAsync(worker.Resource);
        Assert.Equal("tcp://server-2:5556,tcp://server-1:5556", ModelBuilder.Parse(env["ConnectionStrings__server"])["RemoteEndpoint"]);
        Assert.Equal(
            "PermitOpen server-1:5556 server-2:5556\n",
            await SshBastionFiles.DeploymentConfigAsync(bastion.Resource, CancellationToken.None));
    }

    [Fact]
    public async Task Any_resource_with_a_TCP_endpoint_is_a_target_as_the_bastion_reaches_it()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var container = model.Builder.AddContainer("rep", "debian", "bookworm-slim").WithEndpoint(targetPort: 5556, name: "zmq", scheme: "tcp");
        var onHost = model.Builder.AddExecutable("hostrep", "true", ".").WithEndpoint(port: 7000, name: "zmq", scheme: "tcp", isProxied: false);
        var worker = model.Builder.AddExecutable("worker", "true", ".");
        worker.WithSshTunnel(bastion, container.GetEndpoint("zmq"))
            .WithSshTunnel(bastion, [onHost.GetEndpoint("zmq")], "other");
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);
        ModelBuilder.Allocate(onHost.Resource, "zmq", 7000);

        var env = await ModelBuilder.EnvironmentAsync(worker.Resource);
        Assert.Equal("tcp://rep:5556", ModelBuilder.Parse(env["ConnectionStrings__rep"])["RemoteEndpoint"]);
        Assert.Equal("tcp://host.docker.internal:7000", ModelBuilder.Parse(env["ConnectionStrings__other"])["RemoteEndpoint"]);
        Assert.Equal(
            "PermitOpen host.docker.internal:7000 rep:5556\n",
            await SshBastionFiles.DeploymentConfigAsync(bastion.Resource, CancellationToken.None));
    }

    [Fact]
    public async Task Container_consumer_reaches_the_bastion_on_the_container_network_with_the_key_copied_in()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        var worker = model.Builder.AddContainer("worker", "debian", "bookworm-slim");
        worker.WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);

        var env = await ModelBuilder.EnvironmentAsync(worker.Resource);
        var parsed = ModelBuilder.Parse(env["ConnectionStrings__server"]);
        Assert.Equal("tunnel@bastion:22", parsed["SshServer"]);
        Assert.Equal("/run/aspire-ssh/bastion_client_ed25519_key", parsed["PrivateKeyPath"]);

        var files = worker.Resource.Annotations.OfType<ContainerFileSystemCallbackAnnotation>().Single();
        Assert.Equal("/run/aspire-ssh", files.DestinationPath);
        var key = Assert.IsType<ContainerFile>(Assert.Single(await files.Callback(new ContainerFileSystemCallbackContext { Model = worker.Resource, Services = null! }, CancellationToken.None)));
        Assert.Equal(("bastion_client_ed25519_key", UnixFileMode.UserRead), (key.Name, key.Mode));
        Assert.Equal(SshKeyMaterial.EnsureCreated(model.KeyDirectory).ClientPrivateKeyPath, key.SourcePath);
    }

    [Fact]
    public async Task Container_consumer_key_belongs_to_root_unless_WithSshKeyOwner_names_the_user()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        var rootWorker = model.Builder.AddContainer("root-worker", "debian", "bookworm-slim")
            .WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));
        var after = model.Builder.AddContainer("after", "debian", "bookworm-slim")
            .WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556))
            .WithSshKeyOwner(1654, 1654);
        var before = model.Builder.AddContainer("before", "debian", "bookworm-slim")
            .WithSshKeyOwner(1000)
            .WithSshKeyOwner(1654, 1654)
            .WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));
        var userOnly = model.Builder.AddContainer("user-only", "debian", "bookworm-slim")
            .WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556))
            .WithSshKeyOwner(1654);

        Assert.Equal(((int?)null, (int?)null), Owner(await KeyFileAsync(rootWorker.Resource)));
        Assert.Equal(((int?)1654, (int?)1654), Owner(await KeyFileAsync(after.Resource)));
        Assert.Equal(((int?)1654, (int?)1654), Owner(await KeyFileAsync(before.Resource)));
        Assert.Equal(((int?)1654, (int?)null), Owner(await KeyFileAsync(userOnly.Resource)));
        Assert.Single(before.Resource.Annotations.OfType<SshKeyOwnerAnnotation>());
        // The mode stays 0400 whoever owns the key.
        Assert.Equal(UnixFileMode.UserRead, (await KeyFileAsync(after.Resource)).Mode);

        static (int?, int?) Owner(ContainerFile key) => (key.Owner, key.Group);
    }

    [Theory]
    [InlineData(-1, null, "userId")]
    [InlineData(1654, -1, "groupId")]
    public void WithSshKeyOwner_refuses_a_negative_id(int userId, int? groupId, string parameter)
    {
        using var model = new ModelBuilder();
        var worker = model.Builder.AddContainer("worker", "debian", "bookworm-slim");

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => worker.WithSshKeyOwner(userId, groupId));
        Assert.Equal(parameter, ex.ParamName);
        Assert.Empty(worker.Resource.Annotations.OfType<SshKeyOwnerAnnotation>());
    }

    private static async Task<ContainerFile> KeyFileAsync(ContainerResource consumer)
    {
        var files = consumer.Annotations.OfType<ContainerFileSystemCallbackAnnotation>().Single();
        return Assert.IsType<ContainerFile>(Assert.Single(await files.Callback(new ContainerFileSystemCallbackContext { Model = consumer, Services = null! }, CancellationToken.None)));
    }

    [Fact]
    public async Task Password_login_hands_the_password_instead_of_a_key()
    {
        using var model = new ModelBuilder();
        model.Builder.Configuration["Parameters:pw"] = "correct;horse=\"battery' staple";
        var password = model.Builder.AddParameter("pw", secret: true);
        var bastion = model.AddBastion().WithPasswordLogin(password);
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        var worker = model.Builder.AddExecutable("worker", "true", ".");
        worker.WithSshTunnel(bastion, [SshForwardTarget.FromContainerPort(server.Resource, 5556)], "server", password);
        ModelBuilder.Allocate(bastion.Resource, "ssh", 2222);

        var parsed = ModelBuilder.Parse((await ModelBuilder.EnvironmentAsync(worker.Resource))["ConnectionStrings__server"]);
        Assert.Equal("correct;horse=\"battery' staple", parsed["Password"]);
        Assert.False(parsed.ContainsKey("PrivateKeyPath"));
    }

    [Fact]
    public void Consumer_waits_for_the_bastion_and_is_shown_beside_it()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var server = model.Builder.AddContainer("server", "debian", "bookworm-slim");
        var worker = model.Builder.AddExecutable("worker", "true", ".").WithSshTunnel(bastion, SshForwardTarget.FromContainerPort(server.Resource, 5556));

        Assert.Contains(worker.Resource.Annotations.OfType<WaitAnnotation>(), w => w.Resource == bastion.Resource);
        Assert.Contains(worker.Resource.Annotations.OfType<ResourceRelationshipAnnotation>(), r => r.Resource == bastion.Resource);
    }

    [Fact]
    public void A_target_the_forward_cannot_carry_is_refused_with_the_reason()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        var udp = model.Builder.AddContainer("dns", "debian", "bookworm-slim").WithEndpoint(targetPort: 53, name: "dns", scheme: "udp", protocol: System.Net.Sockets.ProtocolType.Udp);
        var worker = model.Builder.AddExecutable("worker", "true", ".");

        var ex = Assert.Throws<ArgumentException>(() => worker.WithSshTunnel(bastion, udp.GetEndpoint("dns")));
        Assert.Contains("is not TCP", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => worker.WithSshTunnel(bastion, Array.Empty<SshForwardTarget>(), "server"));
    }

    [Fact]
    public void Target_health_check_is_registered_for_the_endpoint()
    {
        using var model = new ModelBuilder();
        var rep = model.Builder.AddContainer("rep", "debian", "bookworm-slim").WithEndpoint(targetPort: 5556, name: "zmq", scheme: "tcp").WithTcpHealthCheck("zmq");
        Assert.Equal("rep_zmq_tcp", rep.Resource.Annotations.OfType<HealthCheckAnnotation>().Single().Key);
    }
}
