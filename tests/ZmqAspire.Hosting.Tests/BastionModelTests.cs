namespace ZmqAspire.Hosting.Tests;

/// <summary>AddSshBastion's resource: image recipe, endpoint, health check and options as annotations.</summary>
public sealed class BastionModelTests
{
    private static readonly string[] RecipeFiles = ["Dockerfile", "install-secrets.sh", "sshd_config", "start-sshd.sh", "tunnel-shell.sh"];

    [Fact]
    public void Bastion_is_built_from_the_recipe_inside_the_package_on_the_named_base_image()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();

        var build = bastion.Resource.Annotations.OfType<DockerfileBuildAnnotation>().Single();
        Assert.Equal(RecipeFiles, Directory.GetFiles(build.ContextPath).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.StartsWith(Path.GetTempPath(), build.ContextPath, StringComparison.Ordinal);
        var from = File.ReadLines(Path.Combine(build.ContextPath, "Dockerfile")).Single(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        Assert.Equal($"FROM {SshBastionContainerImageTags.BaseImage}:{SshBastionContainerImageTags.BaseTag}", from);
        Assert.Contains("AllowUsers tunnel", File.ReadAllText(Path.Combine(build.ContextPath, "sshd_config")), StringComparison.Ordinal);
        Assert.Equal(SshBastionContainerImageTags.Image, bastion.Resource.Annotations.OfType<ContainerImageAnnotation>().Single().Image);
    }

    [Fact]
    public void Bastion_publishes_sshd_and_is_healthy_by_its_banner_check()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion().WithHostPort(2222);

        var ssh = bastion.Resource.Annotations.OfType<EndpointAnnotation>().Single();
        Assert.Equal((SshBastionResource.SshEndpointName, 22, 2222, "tcp"), (ssh.Name, ssh.TargetPort!.Value, ssh.Port!.Value, ssh.UriScheme));
        Assert.Equal("bastion_ssh_banner", bastion.Resource.Annotations.OfType<HealthCheckAnnotation>().Single().Key);
    }

    [Fact]
    public async Task Options_are_annotations_that_the_sshd_settings_follow()
    {
        using var model = new ModelBuilder();
        var password = model.Builder.AddParameter("pw", secret: true);
        var bastion = model.AddBastion().WithAesCtrCiphers().WithPasswordLogin(password).WithRemoteForwarding(6000).WithRemoteForwarding(5999);

        Assert.Single(bastion.Resource.Annotations.OfType<SshAesCtrCiphersAnnotation>());
        Assert.Same(password.Resource, bastion.Resource.Annotations.OfType<SshPasswordLoginAnnotation>().Single().Password);
        var config = await SshBastionFiles.DeploymentConfigAsync(bastion.Resource, CancellationToken.None);
        Assert.Equal(
            "PasswordAuthentication yes\nAuthenticationMethods publickey password\n"
            + "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr\n"
            + "AllowTcpForwarding yes\nGatewayPorts clientspecified\nPermitListen *:5999 *:6000\n",
            config);
    }

    [Fact]
    public async Task Without_targets_the_deployment_adds_no_PermitOpen_so_the_image_default_none_holds()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        Assert.Equal(string.Empty, await SshBastionFiles.DeploymentConfigAsync(bastion.Resource, CancellationToken.None));
    }

    [Fact]
    public void Bad_ports_are_refused_at_once()
    {
        using var model = new ModelBuilder();
        var bastion = model.AddBastion();
        Assert.Equal("port", Assert.Throws<ArgumentOutOfRangeException>(() => bastion.WithRemoteForwarding(0)).ParamName);
        Assert.Equal("port", Assert.Throws<ArgumentOutOfRangeException>(() => bastion.WithHostPort(65536)).ParamName);
    }
}
