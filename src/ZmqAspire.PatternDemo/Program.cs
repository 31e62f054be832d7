using ZmqAspire.PatternDemo;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.Section);
builder.Services.AddHostedService<DemoPeer>();
builder.Build().Run();
