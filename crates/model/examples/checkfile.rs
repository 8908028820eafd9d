fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let c = gatehouse_model::check(&text);
    let src = gatehouse_model::Source::new(&path, &text);
    for d in &c.diagnostics {
        println!("{}\n", d.render(&src, false));
    }
    println!("{} errors, {} warnings", c.errors(), c.warnings());
}
