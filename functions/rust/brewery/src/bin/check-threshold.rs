fn main() {
    brewery::run(brewery::actions::check_threshold);
}
