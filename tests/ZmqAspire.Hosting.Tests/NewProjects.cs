namespace ZmqAspire.Hosting.Tests;

/// <summary>
/// The files of a brand-new AppHost and worker that use the packages from a local feed, as
/// another team would write them: nothing in them points into this repository.
/// </summary>
internal static class NewProjects
{
    public static void Write(string root, string version)
    {
        // Stops MSBuild from looking further up for Directory.Build.* or central versions.
        File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(root, "Directory.Packages.props"), "<Project><PropertyGroup><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup></Project>\n");
        File.WriteAllText(Path.Combine(root, "nuget.config"), """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="feed" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);

        Write(root, "rep/Dockerfile", """
            FROM debian:bookworm-slim
            RUN apt-get update \
             && apt-get install -y --no-install-recommends python3-zmq \
             && rm -rf /var/lib/apt/lists/*
            COPY rep.py /opt/rep.py
            USER 65534:65534
            ENTRYPOINT ["/usr/bin/python3", "-u", "/opt/rep.py"]
            """);
        Write(root, "rep/rep.py", """
            import zmq

            socket = zmq.Context.instance().socket(zmq.REP)
            socket.bind("tcp://*:5556")
            print("REP bound on 5556", flush=True)
            while True:
                socket.send_string("reply to " + socket.recv_string())
            """);

        Write(root, "AppHost/AppHost.csproj", $"""
            <Project Sdk="Aspire.AppHost.Sdk/13.6.4">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <UserSecretsId>zmqaspire-package-e2e</UserSecretsId>
                <MSBuildWarningsAsMessages>$(MSBuildWarningsAsMessages);ASPIRE010</MSBuildWarningsAsMessages>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Aspire.Hosting.AppHost" Version="13.6.5" />
                <PackageReference Include="Polly.Core" Version="8.8.0" />
                <PackageReference Include="Nerdbank.MessagePack" Version="1.3.88" />
                <PackageReference Include="ZmqAspire.Hosting" Version="{version}" />
              </ItemGroup>
              <ItemGroup>
                <ProjectReference Include="../Worker/Worker.csproj" />
              </ItemGroup>
            </Project>
            """);
        // Three consumers of one server through one bastion: the worker as a project, and the same
        // worker shipped as a container that runs as .NET's app user (uid 1654), with and without
        // WithSshKeyOwner. Each writes its reply, or why it has none, into the result folder.
        Write(root, "AppHost/AppHost.cs", """
            var builder = DistributedApplication.CreateBuilder(args);
            var results = builder.Configuration["ResultDirectory"] ?? throw new InvalidOperationException("--ResultDirectory is needed");
            var workerImage = Path.Combine(builder.AppHostDirectory, "..", "worker-image");

            var bastion = builder.AddSshBastion("bastion")
                .WithKeyDirectory(Path.Combine(builder.AppHostDirectory, "..", "keys"));
            var server = builder.AddDockerfile("server", Path.Combine(builder.AppHostDirectory, "..", "rep"))
                .WithEndpoint(targetPort: 5556, name: "zmq", scheme: "tcp")
                .WithTcpHealthCheck("zmq");

            builder.AddProject<Projects.Worker>("worker")
                .WithSshTunnel(bastion, server.GetEndpoint("zmq"))
                .WithEnvironment("RESULT_FILE", Path.Combine(results, "project.txt"))
                .WaitFor(server);

            builder.AddDockerfile("worker-app", workerImage)
                .WithSshTunnel(bastion, server.GetEndpoint("zmq"))
                .WithSshKeyOwner(1654)
                .WithBindMount(results, "/results")
                .WithEnvironment("RESULT_FILE", "/results/container.txt")
                .WaitFor(server);

            // The mistake WithSshKeyOwner fixes: the key stays root's, and uid 1654 may not read it.
            builder.AddDockerfile("worker-root-key", workerImage)
                .WithSshTunnel(bastion, server.GetEndpoint("zmq"))
                .WithBindMount(results, "/results")
                .WithEnvironment("RESULT_FILE", "/results/container-without-owner.txt")
                .WaitFor(server);

            builder.Build().Run();
            """);
        // The worker's image as a team ships it: published on the host (self-contained linux-x64,
        // into worker-image/app; the test runs dotnet publish), since an image build cannot reach
        // NuGet, and run as uid 1654, the user of .NET's images and of dotnet publish
        // -t:PublishContainer. OpenSSL: .NET's cryptography loads it.
        Write(root, "worker-image/Dockerfile", """
            FROM debian:bookworm-slim
            RUN apt-get update \
             && apt-get install -y --no-install-recommends libssl3 \
             && rm -rf /var/lib/apt/lists/*
            COPY app/ /app/
            ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
            USER 1654:1654
            ENTRYPOINT ["/app/Worker"]
            """);
        Write(root, "AppHost/Properties/launchSettings.json", """
            {
              "profiles": {
                "http": {
                  "commandName": "Project",
                  "applicationUrl": "http://localhost:15080",
                  "environmentVariables": {
                    "ASPNETCORE_ENVIRONMENT": "Development",
                    "DOTNET_ENVIRONMENT": "Development",
                    "ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL": "http://localhost:19080",
                    "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL": "http://localhost:20080",
                    "ASPIRE_ALLOW_UNSECURED_TRANSPORT": "true"
                  }
                }
              }
            }
            """);

        Write(root, "Worker/Worker.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.14" />
                <PackageReference Include="NetMQ" Version="4.0.4.5" />
                <PackageReference Include="ZmqAspire.SshTunnel" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        // The client integration reads the hosting package's ConnectionStrings__server and keeps
        // the tunnel up; the worker connects once to its local endpoint and writes the reply, or
        // the error that stopped it, to RESULT_FILE.
        Write(root, "Worker/Program.cs", """
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Hosting;
            using NetMQ;
            using NetMQ.Sockets;
            using ZmqAspire.Tunneling;

            var resultFile = Environment.GetEnvironmentVariable("RESULT_FILE")!;
            try
            {
                var builder = Host.CreateApplicationBuilder(args);
                builder.AddSshTunnel("server");
                using var host = builder.Build();
                await host.StartAsync();
                var tunnel = host.Services.GetRequiredService<SshTunnel>();
                await tunnel.WaitUntilUpAsync(TimeSpan.FromSeconds(60));
                using (var request = new RequestSocket())
                {
                    request.Connect(tunnel.LocalEndpoint.ToString());
                    request.SendFrame("hello through the bastion");
                    if (!request.TryReceiveFrameString(TimeSpan.FromSeconds(30), out var reply))
                    {
                        throw new TimeoutException("no reply within 30 s");
                    }

                    Console.WriteLine($"reply: {reply}");
                    Write(reply);
                }

                NetMQConfig.Cleanup(block: false);
                await host.StopAsync();
                return 0;
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine(ex);
                Write("failed: " + ex.Message);
                return 1;
            }

            // Whole or not at all: the test reads the file once it exists.
            void Write(string text)
            {
                File.WriteAllText(resultFile + ".tmp", text);
                File.Move(resultFile + ".tmp", resultFile, overwrite: true);
            }
            """);
    }

    private static void Write(string root, string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text + "\n");
    }
}
